/**
 * The worker's side of the bridge: runs one job attempt in a guest Python
 * process and turns what it sends into GuestEvents and one BridgeOutcome.
 *
 * Lifecycle of a run (one `BridgeRun`, see bridge-run.ts):
 *
 *   listening ──spawn──► awaiting_hello ──valid HELLO, JOB_SPEC sent──► running
 *       │                      │                                          │
 *       └──────────────────────┴──── verdict or failure ─────────────────┴──► closing ──► closed
 *
 * `closing` kills the guest's process group (SIGTERM, SIGKILL after
 * killGraceMs), waits for the guest to exit, closes the socket and server and
 * removes the private directory; only then does runBridge resolve. runBridge
 * never rejects because of anything the guest does: every failure is a typed
 * JobError in the outcome.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JobErrors } from '../../common/job-error';
import { traceFields } from '../../common/trace-context';
import { DEFAULT_MAX_FRAME_PAYLOAD } from './frames';
import { validateExtraEnv } from './guest-env';
import { BridgeRun } from './bridge-run';
import { bridgeDirPrefix } from './bridge-dirs';
import { spawnGuestProcess } from './guest-process';
import type { BridgeOptions, BridgeOutcome, BridgeRunSpec, BridgeSink } from './types';

function validateSpec(spec: BridgeRunSpec): void {
  for (const key of ['connectMs', 'idleMs', 'totalMs', 'killGraceMs'] as const) {
    const v = spec.timeouts?.[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new TypeError(`timeouts.${key} must be a positive number`);
    }
  }
  if (!path.isAbsolute(spec.shimPath)) throw new TypeError('shimPath must be absolute');
  if (typeof spec.source !== 'string') throw new TypeError('source must be a string');
  const cap = spec.maxFramePayload ?? DEFAULT_MAX_FRAME_PAYLOAD;
  if (!Number.isInteger(cap) || cap < 1024) throw new TypeError('maxFramePayload must be an integer >= 1024');
  validateExtraEnv(spec.extraEnv);
  if (spec.limits !== undefined) {
    for (const key of ['memoryMb', 'cpuSeconds', 'openFiles'] as const) {
      const v = spec.limits[key];
      if (!Number.isSafeInteger(v) || v < 0) throw new TypeError(`limits.${key} must be a non-negative integer`);
    }
  }
}

/**
 * Run one job attempt in a guest. Rejects only for an invalid spec (a caller
 * bug) or when the private directory cannot be created.
 */
export async function runBridge(spec: BridgeRunSpec, sink: BridgeSink, opts: BridgeOptions): Promise<BridgeOutcome> {
  validateSpec(spec);
  const logger = opts.logger.scope({ component: 'bridge', jobId: spec.jobId, attempt: spec.attempt, ...traceFields(spec.traceparent) });
  if (opts.signal?.aborted) {
    return {
      status: 'cancelled',
      error: JobErrors.cancelled('job cancelled before the guest started'),
      outputs: [],
      durationMs: 0,
      pid: null,
      exitCode: null,
      signal: null,
      stdoutTail: '',
      stderrTail: '',
    };
  }
  const privateDir = await fs.promises.mkdtemp(bridgeDirPrefix());
  try {
    await fs.promises.chmod(privateDir, 0o700);
    const token = crypto.randomBytes(32).toString('hex');
    const launch = opts.launch ?? spawnGuestProcess;
    const run = new BridgeRun({ spec, sink, logger, signal: opts.signal, privateDir, token, hostEnv: opts.hostEnv, launch });
    return await run.run();
  } finally {
    await fs.promises.rm(privateDir, { recursive: true, force: true }).catch((e: Error) => {
      logger.warn('could not remove the bridge directory', { dir: privateDir, error: e.message });
    });
  }
}
