/**
 * The queue-control fields every submit request shares (SubmitJob,
 * SubmitJobs, SubmitScan): a priority and an
 * earliest start. Validated here once, turned into the queue's NewJob fields.
 */
import { int32, optionalTime } from '../../common/validate';
import type { NewJob } from '../queue';

/** How far ahead not_before may lie: far enough for any schedule, short enough to catch unit mistakes. */
export const MAX_NOT_BEFORE_AHEAD_MS = 365 * 86_400_000;

export function queueControls(req: { priority: number; notBefore?: Date }, now: number): Pick<NewJob, 'priority' | 'notBefore'> {
  return {
    priority: int32('priority', req.priority ?? 0),
    notBefore: optionalTime('not_before', req.notBefore, now, MAX_NOT_BEFORE_AHEAD_MS),
  };
}
