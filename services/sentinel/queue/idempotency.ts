/**
 * Idempotency keys. A key names one job: submitting again with the same key
 * returns that job, provided it is the same request. "The same request" is
 * decided by a fingerprint of the fields as the client sent them (after
 * validation and path normalisation), not of what the Sentinel resolved them
 * to: a retry that asks for the latest plugin version still matches after a
 * newer version is published. A job stored without a fingerprint (submitted
 * before migration 4) matches any request with its key.
 *
 * not_before is left out on purpose: a client that computes it from a
 * relative time ("in 10 minutes") and retries its submit sends a slightly
 * different time, and should still get the job its first call created.
 */
import * as crypto from 'node:crypto';

/** The SubmitJob fields a fingerprint covers, as requested (0 and '' mean "inherit"). */
export interface SubmittedRequest {
  pluginName: string;
  /** '' = the latest published version. */
  pluginVersion: string;
  /** Normalised absolute path. */
  inputPath: string;
  /** 0 = the plugin's or the Sentinel's default. */
  maxAttempts: number;
  timeouts?: { guestConnectMs?: number; idleMs?: number; startToCloseMs?: number; killGraceMs?: number; scheduleToStartMs?: number };
  backoff?: { initialMs?: number; multiplier?: number; maxMs?: number };
  /** 0 = default. Covered only when not 0, so fingerprints stored before priorities existed still match. */
  priority?: number;
}

/** sha256 (hex) of the canonical form of a SubmitJob request; an absent timeouts or backoff equals all zeros. */
export function submitFingerprint(r: SubmittedRequest): string {
  return fingerprint(['submit-job/1', r.pluginName, r.pluginVersion, r.inputPath, ...settings(r)]);
}

/** The same for a SubmitJobs request: its input paths (normalised), in order, instead of one path. */
export function batchFingerprint(r: Omit<SubmittedRequest, 'inputPath'> & { inputPaths: string[] }): string {
  return fingerprint(['submit-jobs/1', r.pluginName, r.pluginVersion, r.inputPaths, ...settings(r)]);
}

function settings(r: Pick<SubmittedRequest, 'maxAttempts' | 'timeouts' | 'backoff' | 'priority'>): unknown[] {
  const t = r.timeouts ?? {};
  const b = r.backoff ?? {};
  return [
    r.maxAttempts,
    [t.guestConnectMs ?? 0, t.idleMs ?? 0, t.startToCloseMs ?? 0, t.killGraceMs ?? 0, t.scheduleToStartMs ?? 0],
    [b.initialMs ?? 0, b.multiplier ?? 0, b.maxMs ?? 0],
    ...(r.priority ? [{ priority: r.priority }] : []),
  ];
}

function fingerprint(canonical: unknown[]): string {
  return crypto.createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

/** A key already names a job (or a batch) that was submitted with a different request. */
export class IdempotencyKeyConflict extends Error {
  constructor(
    readonly key: string,
    readonly jobId: string,
    what: 'job' | 'batch' = 'job',
  ) {
    super(
      what === 'job'
        ? `idempotency key "${key}" already names job ${jobId}, which was submitted with a different request ` +
            '(plugin, plugin version, input path, max_attempts, timeouts, backoff or priority); use a new key for a different job'
        : `idempotency key "${key}" already names batch ${jobId}, which was submitted with a different request ` +
            '(plugin, plugin version, input paths, max_attempts, timeouts, backoff or priority); use a new key for a different batch',
    );
    this.name = 'IdempotencyKeyConflict';
  }
}
