/**
 * The JobError of a guest that exited without a verdict (DONE or ERROR).
 *
 *  - SIGXCPU: the kernel's answer to RLIMIT_CPU (the shim sets the hard limit
 *    one second above the soft one, so SIGXCPU, whose default action kills the
 *    process, comes first) → resource_limit / RESOURCE_LIMIT, naming the CPU limit.
 *  - Any other signal (SIGSEGV, an OOM kill, SIGKILL) is transient: another
 *    attempt in a fresh process may succeed. Native code that aborts when an
 *    allocation fails under a memory limit shows up here too; the message then
 *    mentions the limit.
 *  - An exit code means the interpreter itself gave up (a broken environment,
 *    os._exit in the plugin) and is permanent.
 */
import * as os from 'node:os';
import type { JobError } from '../../common/job-error';
import type { BridgeLimits } from './bridge-host';

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
  const when = c.running ? 'before DONE or ERROR' : 'before the bridge handshake';
  const cpu = c.limits?.cpuSeconds ?? 0;

  const cpuBreach = c.signal === 'SIGXCPU' || (c.signal === null && cpu > 0 && c.code === SIGXCPU_EXIT_CODE);
  if (cpuBreach) {
    const limit = cpu > 0 ? `the CPU limit of ${cpu} s` : 'its CPU time limit';
    const how = c.signal ? 'was killed by SIGXCPU' : `exited with code ${c.code} (SIGXCPU)`;
    return {
      errorClass: 'resource_limit',
      code: 'RESOURCE_LIMIT',
      message: `guest exceeded ${limit} (RLIMIT_CPU) and ${how}${detail}`,
      traceback: c.stderr,
      retryable: false,
    };
  }

  const how = c.signal ? `was killed by ${c.signal}` : `exited with code ${c.code}`;
  const memory = c.limits?.memoryMb ?? 0;
  const hint = c.signal && memory > 0 ? ` (a memory limit of ${memory} MiB was in force; native code may abort when an allocation fails)` : '';
  const errorClass = c.signal ? 'transient' : 'permanent';
  return {
    errorClass,
    code: 'GUEST_CRASHED',
    message: `guest ${how} ${when}${hint}${detail}`,
    traceback: c.stderr,
    retryable: errorClass === 'transient',
  };
}
