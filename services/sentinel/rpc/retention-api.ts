/**
 * PurgeJobs: retention. Finished jobs older than a cutoff go with their logs
 * and output rows (one transaction), then their output files. Queued and
 * running jobs are never touched, and no output of a job that stays is.
 */
import { invalidArgument } from '../../common/rpc-error';
import type { PurgeJobsRequest, PurgeJobsResponse } from '../../gen/casparian/v1/sentinel';
import { JobState } from '../../gen/casparian/v1/types';
import type { JobStateName } from '../db/schema';
import { PURGEABLE_STATES } from '../queue';
import type { ClientApiDeps } from './context';
import { stateFromPb } from './mappers';

const DEFAULT_LIMIT = 10_000;
const MAX_LIMIT = 100_000;

export async function purgeJobsRpc(d: ClientApiDeps, req: PurgeJobsRequest): Promise<PurgeJobsResponse> {
  if (!req.olderThanSeconds) throw invalidArgument('older_than_seconds is required and must be > 0');
  if (req.limit > MAX_LIMIT) throw invalidArgument(`limit must be at most ${MAX_LIMIT}`);
  const states: JobStateName[] = [];
  for (const s of req.states) {
    const name = stateFromPb(s);
    if (!name || !PURGEABLE_STATES.includes(name)) {
      throw invalidArgument(`states: only final states can be purged (${PURGEABLE_STATES.join(', ')}), not ${JobState[s] ?? s}`);
    }
    states.push(name);
  }
  const res = await d.lifecycle.purge({ cutoff: d.clock.now() - req.olderThanSeconds * 1000, states, dryRun: req.dryRun, limit: req.limit || DEFAULT_LIMIT });
  if (!req.dryRun) {
    for (const id of res.jobIds) await d.store.removeJob(id);
    if (res.jobIds.length) d.catalog?.removed();
    if (res.jobIds.length) d.logger.info('jobs purged', { jobs: res.jobIds.length, logLines: res.logLines, outputFiles: res.outputFiles, outputBytes: res.outputBytes });
  }
  return { jobs: res.jobIds.length, logLines: res.logLines, outputFiles: res.outputFiles, outputBytes: res.outputBytes, jobIds: res.jobIds };
}
