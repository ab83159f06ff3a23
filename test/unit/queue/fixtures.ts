/** Values shared by the queue unit tests (in-memory SQLite, fake clock). */
import type { JobError } from '../../../services/common/job-error';
import type { NewJob } from '../../../services/sentinel/queue/enqueue';

/** The fake clock's start. */
export const T0 = 1_700_000_000_000;
export const TIMEOUTS = { guestConnectMs: 1, idleMs: 1, startToCloseMs: 1, killGraceMs: 1, scheduleToStartMs: 0 };
export const METRICS = { rows: 3, durationMs: 10, envMs: 0, envProvisioned: false, arrowBytes: 100 };

/** A plugin error of a class, with the message "<class> error". */
export const jobError = (errorClass: JobError['errorClass'], retryable: boolean): JobError => ({ errorClass, code: 'PLUGIN_ERROR', message: `${errorClass} error`, retryable });
export const TRANSIENT = jobError('transient', true);
export const PERMANENT = jobError('permanent', false);

/** A job of plugin p version 1 on /in with 3 attempts, changed by `over`. */
export function newJob(id: string, over: Partial<NewJob> = {}): NewJob {
  return { id, pluginName: 'p', pluginVersion: '1', envHash: 'e', inputPath: '/in', maxAttempts: 3, timeouts: TIMEOUTS, ...over };
}
