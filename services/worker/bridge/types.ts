/**
 * The bridge's contracts: what a guest run is given (BridgeRunSpec, its
 * timeouts and limits), what it reports (GuestEvent through a BridgeSink) and
 * how it ends (BridgeOutcome). Interfaces only; implementations import this
 * module, never each other for their types.
 */
import type { JobError } from '../../common/job-error';
import type { Logger } from '../../common/logger';
import type { LaunchGuest } from './guest-handle';

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

/** What a guest runs: one job attempt, whichever process it runs in. */
export interface GuestJob {
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
  /** The job's W3C traceparent: TRACEPARENT in the guest's environment, and on the run's log lines. */
  traceparent?: string;
  /** setrlimit caps the guest applies to itself before loading the plugin; 0 or absent = none. */
  limits?: BridgeLimits;
  /** Cap on one guest frame's payload; DEFAULT_MAX_FRAME_PAYLOAD (4 MiB) when unset. */
  maxFramePayload?: number;
}

/** A job run in a fresh guest process: `{python} {shimPath}`. */
export interface BridgeRunSpec extends GuestJob {
  /** The env's interpreter, `{env}/bin/python`. */
  python: string;
  /** Absolute path of bridge_py/bridge_shim.py. */
  shimPath: string;
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
  /**
   * The worker's own environment, compiled once by the caller. The guest
   * never inherits it: only the allow-listed names (guest-env.ts) are copied.
   */
  hostEnv: Readonly<NodeJS.ProcessEnv>;
  /** How the guest process is started; default: spawned as a child of the worker (isolation `spawn`). */
  launch?: LaunchGuest;
}
