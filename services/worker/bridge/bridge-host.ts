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
import * as os from 'node:os';
import * as path from 'node:path';
import { JobErrors, type JobError } from '../../common/job-error';
import type { Logger } from '../../common/logger';
import { DEFAULT_MAX_FRAME_PAYLOAD } from './frames';
import { validateExtraEnv } from './guest-env';
import { BridgeRun } from './bridge-run';
import { bridgeDirPrefix } from './bridge-dirs';

export interface BridgeTimeouts {
  /** From spawn until the guest's valid HELLO. */
  connectMs: number;
  /** Longest silence (no bytes from the guest) while the sink is not holding the stream back. */
  idleMs: number;
  /** From spawn until DONE or ERROR (start-to-close). */
  totalMs: number;
  /** Between SIGTERM and SIGKILL of the guest's process group. */
  killGraceMs: number;
}

/**
 * Resource limits of one guest, sent in JOB_SPEC; 0 = no limit. The guest
 * applies them with setrlimit after importing pyarrow and before compiling the
 * plugin (see docs/bridge-protocol.md). A breach fails the run with class
 * resource_limit, code RESOURCE_LIMIT.
 */
export interface BridgeLimits {
  /** RLIMIT_AS in MiB: the guest's address space (pyarrow alone reserves a few hundred MiB). */
  memoryMb: number;
  /** RLIMIT_CPU in seconds of CPU time, counted from when the limit is applied. */
  cpuSeconds: number;
  /** RLIMIT_NOFILE: the most file descriptors the guest may hold. */
  openFiles: number;
}

export interface BridgeRunSpec {
  python: string;
  /** Absolute path of bridge_py/bridge_shim.py. */
  shimPath: string;
  jobId: string;
  attempt: number;
  pluginName: string;
  pluginVersion: string;
  /** Plugin source; sent in JOB_SPEC, never in argv or the environment. */
  source: string;
  inputPath: string;
  timeouts: BridgeTimeouts;
  /** Added to the guest's scrubbed environment. */
  extraEnv?: Record<string, string>;
  /** setrlimit caps the guest applies to itself before loading the plugin; 0 or absent = none. */
  limits?: BridgeLimits;
  /** Cap on one guest frame's payload; DEFAULT_MAX_FRAME_PAYLOAD (4 MiB) when unset. */
  maxFramePayload?: number;
}

export type GuestEvent =
  | { kind: 'output_begin'; name: string }
  | { kind: 'arrow'; name: string; bytes: Buffer }
  | { kind: 'output_end'; name: string; rows: number; batches: number }
  | { kind: 'log'; level: string; message: string }
  | { kind: 'progress'; rows?: number; fraction?: number; message?: string }
  | { kind: 'metrics'; values: Record<string, number> };

/**
 * Receives a run's events in order. `output_begin` comes once per output (at
 * its first OUTPUT_BEGIN); the `arrow` bytes of one name, concatenated, are a
 * complete Arrow IPC stream once its `output_end` has arrived. While a
 * returned promise is pending the host stops reading the socket
 * (backpressure reaches the guest, whose writes block) and the idle timeout
 * is suspended. A sink that throws or rejects fails the run (transient,
 * INTERNAL).
 */
export interface BridgeSink {
  onEvent(e: GuestEvent): void | Promise<void>;
}

export interface BridgeOutcome {
  status: 'succeeded' | 'failed' | 'cancelled';
  /** Set when failed or cancelled. */
  error?: JobError;
  /** Outputs the guest ended (OUTPUT_END), in order of first appearance. */
  outputs: { name: string; rows: number; batches: number }[];
  durationMs: number;
  /** Guest process pid (its process group id), null when it never started. */
  pid: number | null;
  exitCode: number | null;
  signal: string | null;
  stdoutTail: string;
  stderrTail: string;
}

export interface BridgeOptions {
  signal?: AbortSignal;
  logger: Logger;
}

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
  const logger = opts.logger.scope({ component: 'bridge', jobId: spec.jobId, attempt: spec.attempt });
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
    const run = new BridgeRun({ spec, sink, logger, signal: opts.signal, privateDir, token });
    return await run.run();
  } finally {
    await fs.promises.rm(privateDir, { recursive: true, force: true }).catch((e: Error) => {
      logger.warn('could not remove the bridge directory', { dir: privateDir, error: e.message });
    });
  }
}
