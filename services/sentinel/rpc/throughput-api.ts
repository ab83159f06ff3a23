/** GetThroughput: jobs finished per minute and outcome, for the console's chart. */
import { invalidArgument } from '../../common/rpc-error';
import type { GetThroughputRequest, GetThroughputResponse } from '../../gen/casparian/v1/sentinel';
import { throughput } from '../queue';
import type { ClientApiDeps } from './context';

export const THROUGHPUT_DEFAULT_MINUTES = 60;
export const THROUGHPUT_MAX_MINUTES = 1440;

export async function getThroughputRpc(d: ClientApiDeps, req: GetThroughputRequest): Promise<GetThroughputResponse> {
  if (req.minutes > THROUGHPUT_MAX_MINUTES) throw invalidArgument(`minutes is at most ${THROUGHPUT_MAX_MINUTES} (one day), got ${req.minutes}`);
  const minutes = req.minutes || THROUGHPUT_DEFAULT_MINUTES;
  const buckets = await throughput(d.db, { minutes, now: d.clock.now(), pluginName: req.pluginName || undefined });
  return {
    buckets: buckets.map((b) => ({
      start: new Date(b.start),
      succeeded: b.counts.succeeded,
      failed: b.counts.failed,
      cancelled: b.counts.cancelled,
      deadLetter: b.counts.dead_letter,
    })),
  };
}
