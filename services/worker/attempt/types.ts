/**
 * Contracts of one job attempt on a worker, independent of gRPC: what is run
 * (AttemptSpec), where its events and verdict go (AttemptChannel), how the
 * environment is obtained (EnvSource) and how the guest is started
 * (StartGuest, the seam of the isolation levels). Interfaces only.
 */
import type { IsolationChoice } from '../../common/isolation';
import type { JobError } from '../../common/job-error';
import type { Logger } from '../../common/logger';
import type { BridgeOutcome, BridgeSink, GuestJob } from '../bridge/types';
import type { EnvLease } from '../envs/types';

/** Which attempt, and the lease the Sentinel fences its writes with. */
export interface AttemptRef {
  jobId: string;
  attempt: number;
  leaseToken: string;
}

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
  /** The plugin's isolation level (its manifest); '' = the worker's default. */
  isolation: IsolationChoice;
  /** The job's W3C traceparent: on this attempt's log lines, and TRACEPARENT in the guest's environment. */
  traceparent?: string;
  /** What the signature covers, as received; checked by artifact-check.ts before anything runs. */
  artifact: ArtifactClaim;
}

/** A plugin version's manifest and signature as the worker received them. */
export interface ArtifactClaim {
  /** The artifact hash the Sentinel sent ('' for Run); only quoted in errors, never trusted. */
  artifactHash: string;
  /** The stored manifest's canonical JSON, part of the artifact hash. */
  manifestJson: string;
  /** The publisher's Ed25519 signature; empty = unsigned. */
  signature: Uint8Array;
  /** The key id of the signature; '' = unsigned. */
  signingKeyId: string;
}

/** Where an attempt's events go. Each call resolves when the event is accepted (backpressure), and rejects once the channel is broken. */
export interface AttemptReporter {
  log(level: string, source: 'plugin' | 'env' | 'worker', message: string): Promise<void>;
  progress(p: { rows: number; fraction: number; message: string }): Promise<void>;
  /** A piece (≤ 1 MiB) of an output's Arrow IPC stream. */
  chunk(outputName: string, bytes: Buffer): Promise<void>;
  /** The input's SHA-256 (lineage), sent before the first chunk; receivers without lineage leave it out. */
  source?(sha256: string): Promise<void>;
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

/** What the receiver answered to a verdict. */
export interface VerdictReceipt {
  /** The job's state after the verdict, as the Sentinel names it; absent where no queue is involved (Run). */
  jobState?: string;
}

/**
 * The attempt's reporting channel: a Conclude call to the Sentinel (Dispatch
 * path) or the response stream of a Run call. It is open when handed to the
 * runner (for Conclude: header sent and acknowledged, i.e. the lease held).
 */
export interface AttemptChannel extends AttemptReporter {
  /** Sends the verdict and waits for its acknowledgement; rejects if it is not accepted. */
  finish(result: AttemptResult): Promise<VerdictReceipt>;
  /** `fn` is called once if the channel breaks before finish() completes (at once if it already has). */
  onBroken(fn: (e: Error) => void): void;
  /** Gives up on the channel: nothing sent on it is committed. */
  abandon(): void;
}

/** Opens the attempt's channel; rejects when the receiver refuses the attempt (e.g. a lease that is no longer current). */
export type OpenChannel = () => Promise<AttemptChannel>;

/** Hands out environments; throws JobFailure (class env) when it cannot. */
export interface EnvSource {
  acquire(envHash: string, lockfile: string, opts?: { log?: (line: string) => void }): Promise<EnvLease>;
}

export interface GuestStartRequest {
  /** The environment the guest runs in; a fork server or a reused guest is keyed by it. */
  envHash: string;
  /** The environment's interpreter, `{env}/bin/python`. */
  python: string;
  /** The plugin's isolation level; '' = the worker's default. */
  isolation: IsolationChoice;
  job: GuestJob;
}

/**
 * Starts a guest for one attempt and runs it to its outcome: the isolation
 * seam. Events go to `sink` in order (its pending promises hold the guest
 * back); aborting `signal` cancels the run. Resolves with a typed outcome for
 * anything the guest does; rejects only for a caller bug or a host failure.
 */
export type StartGuest = (req: GuestStartRequest, sink: BridgeSink, opts: { signal: AbortSignal; logger: Logger }) => Promise<BridgeOutcome>;
