/**
 * `casparian purge --older-than DURATION [--state S,S] [--dry-run] [--limit N]`:
 * retention through PurgeJobs. DURATION is a number with s, m, h or d
 * (`30d`). Repeats the call while a full page comes back.
 */
import type { Flags } from '../../services/common/config';
import { JobState } from '../../services/gen/casparian/v1/types';
import { PurgeJobsResponse } from '../../services/gen/casparian/v1/sentinel';
import { printProto } from './proto-output';
import type { SentinelClient } from './client';
import { parseState } from './format';
import { intFlag, strFlag, UsageError } from './usage';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** A duration flag such as 30d, 12h, 90m or 45s, in seconds; a usage error naming `flag` otherwise. */
export function parseDuration(text: string, flag = '--older-than'): number {
  const m = /^(\d+)([smhd])$/.exec(text.trim());
  if (!m) throw new UsageError(`${flag} wants a number and a unit (s, m, h, d), e.g. 30d; got "${text}"`);
  const seconds = Number(m[1]) * UNITS[m[2]];
  if (seconds <= 0 || seconds > 0xffffffff) throw new UsageError(`${flag} must be between 1s and 136 years; got "${text}"`);
  return seconds;
}

export async function purge(c: SentinelClient, flags: Flags): Promise<void> {
  const older = strFlag(flags, 'older-than');
  if (!older) throw new UsageError('usage: casparian purge --older-than DURATION [--state S,S] [--dry-run] [--limit N]');
  const olderThanSeconds = parseDuration(older);
  const states = (strFlag(flags, 'state') ?? '').split(',').filter(Boolean).map(parseState);
  const limit = intFlag(flags, 'limit', 0);
  const dryRun = flags['dry-run'] === true;
  const total: PurgeJobsResponse = { jobs: 0, logLines: 0, outputFiles: 0, outputBytes: 0, jobIds: [] };
  for (;;) {
    const r = await c.purgeJobs({ olderThanSeconds, states, dryRun, limit });
    total.jobs += r.jobs;
    total.logLines += r.logLines;
    total.outputFiles += r.outputFiles;
    total.outputBytes += r.outputBytes;
    total.jobIds.push(...r.jobIds);
    // A dry run counts one page; a purge continues while pages come back full.
    if (dryRun || r.jobs === 0 || r.jobs < (limit || 10_000)) break;
  }
  // The pages' PurgeJobsResponses summed into one (a dry run counts one page).
  if (flags.json) return printProto('PurgeJobsResponse', PurgeJobsResponse, total);
  const what = `${total.jobs} finished jobs older than ${older}${states.length ? ` (${states.map((s) => JobState[s].replace('JOB_STATE_', '').toLowerCase()).join(', ')})` : ''}: ${total.logLines} log lines, ${total.outputFiles} output files, ${(total.outputBytes / 1e6).toFixed(1)} MB`;
  process.stdout.write(`${dryRun ? 'would purge' : 'purged'} ${what}\n`);
}
