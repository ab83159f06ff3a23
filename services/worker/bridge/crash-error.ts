/**
 * The JobError of a guest that exited without a verdict (DONE or ERROR).
 *
 *  - Before the handshake (no JOB_SPEC yet, so no plugin code ran): the
 *    environment or bridge is broken → transient / GUEST_START_FAILED, which
 *    never counts toward the plugin's circuit breaker.
 *  - SIGXCPU: the kernel's answer to RLIMIT_CPU (the shim sets the hard limit
 *    one second above the soft one, so SIGXCPU, whose default action kills the
 *    process, comes first) → resource_limit / RESOURCE_LIMIT, naming the CPU limit.
 *  - Any other signal (SIGSEGV, an OOM kill, SIGKILL) is transient: another
 *    attempt in a fresh process may succeed. Native code that aborts when an
 *    allocation fails under a memory limit shows up here too; the message then
 *    mentions the limit.
 *  - An exit code while the plugin ran means the plugin ended the interpreter
 *    (os._exit, a fatal error in native code it called) and is permanent.
 */
import * as os from 'node:os';
import { JobErrors, type JobError } from '../../common/job-error';
import type { BridgeLimits } from './types';

export interface CrashInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The guest had received its JOB_SPEC (false: it died before the handshake). */
  running: boolean;
  stderr: string;
  limits?: BridgeLimits;
}

/** Exit status of a process whose shell wrapper relays death by SIGXCPU (128 + signal number). */
const SIGXCPU_EXIT_CODE = 128 + (os.constants.signals.SIGXCPU ?? 24);

export function crashError(c: CrashInfo): JobError {
  const lastLine = c.stderr.trim().split('\n').pop()?.slice(0, 500) ?? '';
  const detail = lastLine ? `: ${lastLine}` : '';
  const how = c.signal ? `was killed by ${c.signal}` : `exited with code ${c.code}`;

  // No plugin code runs before the handshake: whatever ended the guest is the environment's or the bridge's fault.
  if (!c.running) return JobErrors.guestStartFailed(`guest ${how} before the bridge handshake${detail}`, c.stderr);

  const cpu = c.limits?.cpuSeconds ?? 0;
  const cpuBreach = c.signal === 'SIGXCPU' || (c.signal === null && cpu > 0 && c.code === SIGXCPU_EXIT_CODE);
  if (cpuBreach) {
    const limit = cpu > 0 ? `the CPU limit of ${cpu} s` : 'its CPU time limit';
    const byWhat = c.signal ? 'was killed by SIGXCPU' : `exited with code ${c.code} (SIGXCPU)`;
    return JobErrors.resourceLimit(`guest exceeded ${limit} (RLIMIT_CPU) and ${byWhat}${detail}`, c.stderr);
  }

  const memory = c.limits?.memoryMb ?? 0;
  const hint = c.signal && memory > 0 ? ` (a memory limit of ${memory} MiB was in force; native code may abort when an allocation fails)` : '';
  return JobErrors.guestCrashed(c.signal ? 'signal' : 'exit', `guest ${how} before DONE or ERROR${hint}${detail}`, c.stderr);
}
