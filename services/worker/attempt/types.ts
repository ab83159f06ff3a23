/** Domain types of one job attempt on a worker (independent of gRPC). */
import type { JobError } from '../../common/job-error';

export interface AttemptSpec {
  jobId: string;
  attempt: number;
  pluginName: string;
  pluginVersion: string;
  source: string;
  envHash: string;
  lockfile: string;
  inputPath: string;
  timeouts: { guestConnectMs: number; idleMs: number; startToCloseMs: number; killGraceMs: number };
  /** Worker environment variables the plugin's manifest lets it see. */
  envAllow: string[];
  /** setrlimit caps for the guest; 0 = none. */
  limits: { memoryMb: number; cpuSeconds: number; openFiles: number };
}

/** Where an attempt's events go: a Conclude stream, or a Run response stream. Each call resolves when the event is accepted (backpressure). */
export interface AttemptReporter {
  log(level: string, source: 'plugin' | 'env' | 'worker', message: string): Promise<void>;
  progress(p: { rows: number; fraction: number; message: string }): Promise<void>;
  /** A piece (≤ 1 MiB) of an output's Arrow IPC stream. */
  chunk(outputName: string, bytes: Buffer): Promise<void>;
}

export interface AttemptMetricsOut {
  rows: number;
  durationMs: number;
  envMs: number;
  envProvisioned: boolean;
  arrowBytes: number;
}

export interface AttemptResult {
  status: 'succeeded' | 'failed' | 'cancelled';
  error?: JobError;
  metrics: AttemptMetricsOut;
  outputs: { name: string; rows: number; batches: number }[];
}
