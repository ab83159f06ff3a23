/** Values shared by the queue unit tests (in-memory SQLite, fake clock). */
import { JobErrors } from '../../../services/common/job-error';
import type { NewJob } from '../../../services/sentinel/queue/enqueue';

/** The fake clock's start. */
export const T0 = 1_700_000_000_000;
export const TIMEOUTS = { guestConnectMs: 1, idleMs: 1, startToCloseMs: 1, killGraceMs: 1, scheduleToStartMs: 0 };
export const METRICS = { rows: 3, durationMs: 10, envMs: 0, envProvisioned: false, arrowBytes: 100 };

/** Plugin errors of each class the plugin can raise. */
export const TRANSIENT = JobErrors.plugin('transient', 'transient error');
export const PERMANENT = JobErrors.plugin('permanent', 'permanent error');

/** A job of plugin p version 1 on /in with 3 attempts, changed by `over`. */
export function newJob(id: string, over: Partial<NewJob> = {}): NewJob {
  return { id, pluginName: 'p', pluginVersion: '1', envHash: 'e', inputPath: '/in', maxAttempts: 3, timeouts: TIMEOUTS, ...over };
}
