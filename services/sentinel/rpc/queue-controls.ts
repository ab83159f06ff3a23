/**
 * The queue-control fields every submit request shares (SubmitJob,
 * SubmitJobs, SubmitScan): a priority and an
 * earliest start. Validated here once, turned into the queue's NewJob fields.
 */
import { int32, optionalTime } from '../../common/validate';
import * as crypto from 'node:crypto';
import type { NewJob } from '../queue';

/** How far ahead not_before may lie: far enough for any schedule, short enough to catch unit mistakes. */
export const MAX_NOT_BEFORE_AHEAD_MS = 365 * 86_400_000;

export function queueControls(req: { priority: number; notBefore?: Date }, now: number): Pick<NewJob, 'priority' | 'notBefore'> {
  return {
    priority: int32('priority', req.priority ?? 0),
    notBefore: optionalTime('not_before', req.notBefore, now, MAX_NOT_BEFORE_AHEAD_MS),
  };
}

/** What every job of one submit shares: its plugin version, settings, queue controls and trace context. */
export type JobCommon = Omit<NewJob, 'id' | 'pluginName' | 'pluginVersion' | 'envHash' | 'inputPath'>;

/** The NewJob of each input path of one submit (SubmitJob, SubmitJobs, SubmitScan), each with a fresh id. */
export function jobMaker(plugin: { name: string; version: string; env_hash: string }, common: JobCommon): (inputPath: string) => NewJob {
  return (inputPath) => ({ id: crypto.randomUUID(), pluginName: plugin.name, pluginVersion: plugin.version, envHash: plugin.env_hash, inputPath, ...common });
}
