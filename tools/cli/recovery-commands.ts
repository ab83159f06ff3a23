/** CLI commands that recover from failures: job retry, retry --dead-letter, plugin pause|resume. */
import { UsageError, strFlag } from './usage';
import type { Flags } from '../../services/common/config';
import { JobState } from '../../services/gen/casparian/v1/types';
import type { SentinelClient } from './client';
import { pluginStatus, stateName } from './format';
import { printProto } from './proto-output';
import { PausePluginResponse, ResumePluginResponse, RetryJobResponse } from '../../services/gen/casparian/v1/sentinel';



const out = (s: string): void => {
  process.stdout.write(s.endsWith('\n') ? s : s + '\n');
};
const str = strFlag;

/** `casparian job retry ID [--reset-attempts]` */
export async function jobRetry(c: SentinelClient, id: string | undefined, flags: Flags): Promise<void> {
  if (!id) throw new UsageError('usage: casparian job retry ID [--reset-attempts]');
  const res = await c.retryJob({ jobId: id, resetAttempts: flags['reset-attempts'] === true });
  if (flags.json) return printProto('RetryJobResponse', RetryJobResponse, res);
  const j = res.job!;
  out(`${j.id} ${stateName(j.state)} (attempt ${j.attempt + 1} of at most ${j.maxAttempts} next)`);
}

/**
 * `casparian retry --dead-letter [--plugin NAME] [--reset-attempts]`: replays
 * every dead-letter job. The ids are collected first (paging by ListJobs), so
 * a job that lands in dead letter again meanwhile is not replayed twice.
 */
export async function retryDeadLetter(c: SentinelClient, flags: Flags): Promise<number> {
  if (flags['dead-letter'] !== true) throw new UsageError('usage: casparian retry --dead-letter [--plugin NAME] [--reset-attempts]');
  const ids: string[] = [];
  let pageToken = '';
  do {
    const page = await c.listJobs({ state: JobState.JOB_STATE_DEAD_LETTER, pluginName: str(flags, 'plugin') ?? '', pageSize: 1000, pageToken });
    ids.push(...page.jobs.map((j) => j.id));
    pageToken = page.nextPageToken;
  } while (pageToken);
  const replayed: string[] = [];
  const skipped: { id: string; error: string }[] = [];
  for (const id of ids.reverse()) {
    try {
      await c.retryJob({ jobId: id, resetAttempts: flags['reset-attempts'] === true });
      replayed.push(id);
    } catch (err) {
      // e.g. FAILED_PRECONDITION: someone replayed it meanwhile.
      skipped.push({ id, error: (err as { details?: string }).details ?? String(err) });
    }
  }
  if (flags.json) {
    // Not an API message: one RetryJob call per job, summed up.
    out(JSON.stringify({ replayed, skipped }, null, 2));
  } else {
    out(`replayed ${replayed.length} dead-letter job${replayed.length === 1 ? '' : 's'}`);
    for (const s of skipped) out(`skipped ${s.id}: ${s.error}`);
  }
  return skipped.length ? 1 : 0;
}

/** `casparian plugin pause NAME VERSION [--reason TEXT]` | `casparian plugin resume NAME VERSION` */
export async function plugin(c: SentinelClient, args: string[], flags: Flags): Promise<void> {
  const [sub, name, version] = args;
  if ((sub !== 'pause' && sub !== 'resume') || !name || !version) {
    throw new UsageError('usage: casparian plugin pause NAME VERSION [--reason TEXT] | casparian plugin resume NAME VERSION');
  }
  let res: PausePluginResponse | ResumePluginResponse;
  if (sub === 'pause') {
    res = await c.pausePlugin({ name, version, reason: str(flags, 'reason') ?? '' });
    if (flags.json) return printProto('PausePluginResponse', PausePluginResponse, res);
  } else {
    res = await c.resumePlugin({ name, version });
    if (flags.json) return printProto('ResumePluginResponse', ResumePluginResponse, res);
  }
  const p = res.plugin!;
  out(`${p.name}@${p.version} ${pluginStatus(p)}  consecutive failures ${p.consecutiveFailures}`);
}
