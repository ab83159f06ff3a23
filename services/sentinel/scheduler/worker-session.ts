/**
 * A connected worker as the Sentinel sees it. Created by the Dispatch stream
 * handler on Hello; the scheduler only uses the send callbacks, never the
 * stream itself.
 */
import type { IsolationChoice } from '../../common/isolation';
import type { AttemptRef, JobTimeouts } from '../queue';

export interface WorkerEnv {
  envHash: string;
  status: string; // 'ready' | 'broken'
  backend: string;
  pythonVersion: string;
  sizeBytes: number;
  problem: string;
}

/** Everything a worker needs to run one attempt. */
export interface DispatchOrder {
  ref: AttemptRef;
  pluginName: string;
  pluginVersion: string;
  source: string;
  artifactHash: string;
  envHash: string;
  lockfile: string;
  inputPath: string;
  timeouts: JobTimeouts;
  envAllow: string[];
  limits: { memoryMb: number; cpuSeconds: number; openFiles: number };
  /** The plugin's isolation level (its manifest); '' = the worker's default. */
  isolation: IsolationChoice;
  /** The job's W3C traceparent; undefined = none. */
  traceparent?: string;
  /** The stored manifest JSON: with source and lockfile, what the artifact hash covers. */
  manifestJson: string;
  /** The publisher's signature and key id; absent when the version is unsigned. */
  signed?: { signature: Buffer; keyId: string };
}

export interface WorkerSession {
  workerId: string;
  hostname: string;
  version: string;
  slots: number;
  envMode: 'auto' | 'strict';
  mayProvision: boolean;
  envs: Map<string, WorkerEnv>;
  connectedAt: number;
  lastHeartbeatAt: number;
  draining: boolean;
  /**
   * A lease of this worker expired without a heartbeat (it is frozen or cut
   * off): it gets no new dispatch until its next heartbeat clears this.
   */
  suspect: boolean;
  /** Job ids dispatched to this worker whose guest is not done: no verdict has arrived, nor has the attempt settled. */
  inFlight: Set<string>;
  sendDispatch(order: DispatchOrder): boolean;
  sendCancel(ref: AttemptRef, reason: string): boolean;
  /** End the stream cleanly (Sentinel shutdown); the worker reconnects later. */
  close(): void;
}

export function hasReadyEnv(w: WorkerSession, envHash: string): boolean {
  return w.envs.get(envHash)?.status === 'ready';
}

/** Slots that may take a new dispatch: none while draining or suspect. */
export function freeSlots(w: WorkerSession): number {
  return w.draining || w.suspect ? 0 : Math.max(0, w.slots - w.inFlight.size);
}
