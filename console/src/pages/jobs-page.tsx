/** Jobs: the list with filters, kept live by WatchJobs; a batch's progress; replaying the dead letter. */
import { useState } from 'preact/hooks';
import { call } from '../api/client';
import { ApiError } from '../api/errors';
import { JOB_STATES, type JobCounts, type JobStateName } from '../api/types';
import { ActionButton } from '../components/action-button';
import { ErrorBox } from '../components/error-box';
import { StateBadge } from '../components/state-badge';
import { short, stateLabel, time } from '../format';
import { useLiveJobs, type LiveStatus } from '../live-jobs';
import { href, navigate, type Route } from '../router';

function LiveIndicator({ status }: { status: LiveStatus }) {
  const text = { connecting: 'connecting…', live: 'live', ended: 'batch finished', retrying: 'live updates lost, reconnecting…' }[status.kind];
  return (
    <span class={`live live-${status.kind}`} data-live={status.kind}>
      ● {text}
      {status.kind === 'retrying' && <ErrorBox error={status.error} />}
    </span>
  );
}

const COUNT_PARTS: [keyof JobCounts, string][] = [
  ['succeeded', 'succeeded'],
  ['failed', 'failed'],
  ['deadLetter', 'dead letter'],
  ['cancelled', 'cancelled'],
  ['running', 'running'],
  ['queued', 'queued'],
];

/** A batch's counts by state, as a bar and as numbers. */
function BatchProgress({ batch, counts }: { batch: string; counts: JobCounts | undefined }) {
  if (!counts) return <p class="muted">batch {batch}: waiting for its counts…</p>;
  const total = counts.total ?? 0;
  const done = (counts.succeeded ?? 0) + (counts.failed ?? 0) + (counts.cancelled ?? 0) + (counts.deadLetter ?? 0);
  return (
    <section class="batch" aria-label="Batch progress" data-total={total} data-done={done}>
      <div>
        Batch <code>{batch}</code>: {done} of {total} final
      </div>
      <div class="bar">
        {COUNT_PARTS.map(([k]) => (counts[k] ? <span key={k} class={`seg seg-${k}`} style={{ width: `${(100 * (counts[k] ?? 0)) / Math.max(total, 1)}%` }} /> : null))}
      </div>
      <div class="counts">
        {COUNT_PARTS.map(([k, label]) => (
          <span key={k} data-count={k}>
            {label}: <b>{counts[k] ?? 0}</b>
          </span>
        ))}
      </div>
    </section>
  );
}

/** Every DEAD_LETTER job (of the plugin, if one is chosen) back to QUEUED, as `casparian retry --dead-letter` does. */
async function replayDeadLetter(plugin: string | undefined, resetAttempts: boolean): Promise<string> {
  const ids: string[] = [];
  let pageToken = '';
  do {
    const page = await call('ListJobs', { state: 'JOB_STATE_DEAD_LETTER', pluginName: plugin, pageSize: 1000, pageToken });
    ids.push(...(page.jobs ?? []).map((j) => j.id));
    pageToken = page.nextPageToken ?? '';
  } while (pageToken);
  const skipped: string[] = [];
  let replayed = 0;
  for (const id of ids.reverse()) {
    try {
      await call('RetryJob', { jobId: id, resetAttempts });
      replayed++;
    } catch (err) {
      const e = ApiError.from(err);
      if (e.code === 'unauthenticated') throw e;
      skipped.push(`${id}: ${e.code} ${e.message}`); // e.g. replayed by someone else meanwhile
    }
  }
  return `replayed ${replayed} dead-letter job${replayed === 1 ? '' : 's'}${skipped.length ? `; skipped ${skipped.length}: ${skipped.join('; ')}` : ''}`;
}

export function JobsPage({ route }: { route: Route }) {
  const state = (route.query.get('state') || undefined) as JobStateName | undefined;
  const plugin = route.query.get('plugin') || undefined;
  const batch = route.query.get('batch') || undefined;
  const live = useLiveJobs({ state, plugin, batch });
  const [notice, setNotice] = useState('');
  const setFilter = (k: string, v: string): void => navigate(['jobs'], { state, plugin, batch, [k]: v || undefined });

  return (
    <div>
      <h2>Jobs</h2>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          State
          <select name="state" value={state ?? ''} onChange={(e) => setFilter('state', e.currentTarget.value)}>
            <option value="">any</option>
            {JOB_STATES.map((s) => (
              <option key={s} value={s}>
                {stateLabel(s)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Plugin
          <input name="plugin" value={plugin ?? ''} placeholder="any" onChange={(e) => setFilter('plugin', e.currentTarget.value.trim())} />
        </label>
        <label>
          Batch
          <input name="batch" value={batch ?? ''} placeholder="any" onChange={(e) => setFilter('batch', e.currentTarget.value.trim())} />
        </label>
        <LiveIndicator status={live.status} />
        <span class="spacer" />
        <ActionButton
          label="Replay dead letter"
          title="Replay the dead letter"
          optionLabel="Reset attempt counts"
          run={async ({ option }) => setNotice(await replayDeadLetter(plugin, option))}
          onDone={live.reload}
        >
          <p>Every DEAD_LETTER job{plugin ? ` of plugin ${plugin}` : ''} goes back to QUEUED with a new attempt budget.</p>
        </ActionButton>
      </form>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {batch && <BatchProgress batch={batch} counts={live.counts} />}
      <ErrorBox error={live.listError} title="ListJobs" />
      <table class="list" aria-label="Jobs">
        <thead>
          <tr>
            <th>Job</th>
            <th>State</th>
            <th>Plugin</th>
            <th>Input</th>
            <th>Attempt</th>
            <th>Worker</th>
            <th>Batch</th>
            <th>Submitted</th>
            <th>Updated</th>
            <th>Error / waiting</th>
          </tr>
        </thead>
        <tbody>
          {live.jobs.map((j) => (
            <tr key={j.id} data-job-id={j.id} data-state={stateLabel(j.state)}>
              <td>
                <a href={href(['jobs', j.id])}>{j.id}</a>
              </td>
              <td>
                <StateBadge state={j.state} />
              </td>
              <td>
                <a href={href(['jobs'], { plugin: j.pluginName })}>{j.pluginName}</a>@{j.pluginVersion}
              </td>
              <td class="path" title={j.inputPath}>
                {j.inputPath}
              </td>
              <td>
                {j.attempt ?? 0}/{j.maxAttempts ?? 0}
              </td>
              <td>{j.workerId}</td>
              <td>{j.batchId && <a href={href(['jobs'], { batch: j.batchId })}>{short(j.batchId, 10)}</a>}</td>
              <td>{time(j.createdAt)}</td>
              <td>{time(j.updatedAt)}</td>
              <td class="why">{j.error?.message ?? j.waitingReason ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {live.jobs.length === 0 && <p class="muted">no jobs{state || plugin || batch ? ' match these filters' : ' yet'}</p>}
      {live.nextPageToken && (
        <button type="button" onClick={live.loadMore}>
          More
        </button>
      )}
    </div>
  );
}
