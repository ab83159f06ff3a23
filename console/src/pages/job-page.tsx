/**
 * One job: its state timeline, attempts, error and traceback, outputs with
 * their schema and first rows, and logs; kept current by WatchJob; cancel and
 * retry.
 */
import { useEffect, useState } from 'preact/hooks';
import { call } from '../api/client';
import { isAbort } from '../api/errors';
import { stream } from '../api/sse';
import type { Job, JobLog } from '../api/types';
import { ActionButton } from '../components/action-button';
import { ErrorBox } from '../components/error-box';
import { StateBadge } from '../components/state-badge';
import { CANCELLABLE, RETRYABLE, between, bytes, duration, num, short, stateLabel, time } from '../format';
import { href } from '../router';
import { OutputPreview } from './output-preview';

const REFRESH_MS = 150;

/** GetJob with logs, re-read whenever WatchJob reports an event (coalesced), until the job is final. */
function useJob(id: string, generation: number): { job?: Job; logs: JobLog[]; error: unknown } {
  const [data, setData] = useState<{ job?: Job; logs: JobLog[] }>({ logs: [] });
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const ac = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const refresh = async (): Promise<void> => {
      try {
        const res = await call('GetJob', { jobId: id, includeLogs: true }, ac.signal);
        setData({ job: res.job, logs: res.logs ?? [] });
        setError(null);
      } catch (err) {
        if (!ac.signal.aborted && !isAbort(err)) setError(err);
      }
    };
    const soon = (): void => {
      timer ??= setTimeout(() => {
        timer = undefined;
        void refresh();
      }, REFRESH_MS);
    };
    void refresh();
    (async () => {
      while (!ac.signal.aborted) {
        try {
          await stream('WatchJob', { jobId: id }, soon, { signal: ac.signal });
          await refresh(); // the final state, with the last logs
          return;
        } catch (err) {
          if (ac.signal.aborted || isAbort(err)) return;
          setError(err);
          await new Promise((r) => setTimeout(r, 2_000));
          await refresh();
        }
      }
    })();
    return () => {
      ac.abort();
      clearTimeout(timer);
    };
  }, [id, generation]);
  return { ...data, error };
}

function Timeline({ job }: { job: Job }) {
  const steps: [string, string | undefined, string][] = [
    ['Submitted', job.createdAt, ''],
    ['Not before', job.notBefore, ''],
    ['Last attempt started', job.startedAt, job.startedAt ? `waited ${duration(between(job.notBefore && job.notBefore > (job.createdAt ?? '') ? job.notBefore : job.createdAt, job.startedAt))}` : ''],
    [`Final: ${stateLabel(job.state)}`, job.finishedAt, job.finishedAt && job.startedAt ? `ran ${duration(between(job.startedAt, job.finishedAt))}` : ''],
  ];
  return (
    <ol class="timeline" aria-label="Timeline">
      {steps
        .filter(([, t]) => t)
        .map(([label, t, note]) => (
          <li key={label}>
            <b>{label}</b> {time(t)} <span class="muted">{note}</span>
          </li>
        ))}
      {!job.finishedAt && (
        <li class="now">
          <b>Now: {stateLabel(job.state)}</b> <span class="muted">{job.waitingReason}</span>
        </li>
      )}
    </ol>
  );
}

/** Attempts as the logs show them (the Job message itself has only the current attempt's number and times). */
function Attempts({ job, logs }: { job: Job; logs: JobLog[] }) {
  const n = Math.max(job.attempt ?? 0, ...logs.map((l) => l.attempt ?? 0));
  if (n === 0) return <p class="muted">not dispatched yet</p>;
  const rows = Array.from({ length: n }, (_, i) => {
    const mine = logs.filter((l) => (l.attempt ?? 0) === i + 1);
    return { attempt: i + 1, first: mine[0]?.time, last: mine[mine.length - 1]?.time, lines: mine.length, errors: mine.filter((l) => /error|critical/i.test(l.level ?? '')).length };
  });
  return (
    <table class="list" aria-label="Attempts">
      <thead>
        <tr>
          <th>Attempt</th>
          <th>First log</th>
          <th>Last log</th>
          <th>Log lines</th>
          <th>Error lines</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.attempt}>
            <td>
              {r.attempt} of {job.maxAttempts ?? '?'}
              {r.attempt === job.attempt ? ' (current)' : ''}
            </td>
            <td>{time(r.first)}</td>
            <td>{time(r.last)}</td>
            <td>{r.lines}</td>
            <td>{r.errors}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function JobErrorView({ job }: { job: Job }) {
  const e = job.error;
  if (!e) return null;
  return (
    <section class="job-error" aria-label="Error">
      <h3>Error</h3>
      <p>
        <code>{(e.errorClass ?? '').replace(/^ERROR_CLASS_/, '') || 'UNSPECIFIED'}</code> {e.code && <code>{e.code}</code>} {e.retryable ? '(retryable)' : '(not retryable)'}
      </p>
      <p class="error-message">{e.message}</p>
      {e.traceback && <pre class="traceback" aria-label="Traceback">{e.traceback}</pre>}
    </section>
  );
}

function Logs({ logs }: { logs: JobLog[] }) {
  if (logs.length === 0) return <p class="muted">no log lines</p>;
  return (
    <pre class="logs" aria-label="Logs">
      {logs.map((l, i) => (
        <div key={i} class={`log log-${(l.level ?? '').toLowerCase()}`}>
          {`${time(l.time)} #${l.attempt ?? 0} ${(l.level ?? '').padEnd(7)} ${l.source ? `[${l.source}] ` : ''}${l.message ?? ''}`}
        </div>
      ))}
    </pre>
  );
}

export function JobPage({ id }: { id: string }) {
  const [generation, setGeneration] = useState(0);
  const { job, logs, error } = useJob(id, generation);
  const bump = (): void => setGeneration((g) => g + 1);
  return (
    <div>
      <h2>
        Job <code>{id}</code> {job && <StateBadge state={job.state} />}
      </h2>
      <ErrorBox error={error} title="GetJob" />
      {job && (
        <>
          <div class="actions">
            {CANCELLABLE.includes(job.state!) && (
              <ActionButton label="Cancel job" title={`Cancel job ${id}`} reasonLabel="Reason (optional)" confirmLabel="Cancel the job" danger run={({ reason }) => call('CancelJob', { jobId: id, reason })} onDone={bump}>
                <p>A queued job is cancelled at once; a running attempt is stopped.</p>
              </ActionButton>
            )}
            {RETRYABLE.includes(job.state!) && (
              <ActionButton label="Retry job" title={`Retry job ${id}`} optionLabel="Reset the attempt count" run={({ option }) => call('RetryJob', { jobId: id, resetAttempts: option })} onDone={bump}>
                <p>The job goes back to QUEUED with a new attempt budget.</p>
              </ActionButton>
            )}
          </div>
          <dl class="facts">
            <dt>Plugin</dt>
            <dd>
              <a href={href(['jobs'], { plugin: job.pluginName })}>{job.pluginName}</a>@{job.pluginVersion}
            </dd>
            <dt>Input</dt>
            <dd class="path">{job.inputPath}</dd>
            <dt>Worker</dt>
            <dd>{job.workerId || '—'}</dd>
            <dt>Env</dt>
            <dd title={job.envHash}>{short(job.envHash)}</dd>
            {job.batchId && (
              <>
                <dt>Batch</dt>
                <dd>
                  <a href={href(['jobs'], { batch: job.batchId })}>{job.batchId}</a>
                </dd>
              </>
            )}
            {job.idempotencyKey && (
              <>
                <dt>Idempotency key</dt>
                <dd>{job.idempotencyKey}</dd>
              </>
            )}
            <dt>Priority</dt>
            <dd>{job.priority ?? 0}</dd>
            {job.metrics && (
              <>
                <dt>Metrics</dt>
                <dd>
                  {num(job.metrics.rows)} rows, {duration(num(job.metrics.durationMs))}
                  {job.metrics.envProvisioned ? `, env provisioned in ${duration(num(job.metrics.envMs))}` : ''}, {bytes(job.metrics.arrowBytes)} of Arrow
                </dd>
              </>
            )}
            {num(job.quarantinedRows) > 0 && (
              <>
                <dt>Quarantined rows</dt>
                <dd>{num(job.quarantinedRows)}</dd>
              </>
            )}
          </dl>
          <h3>Timeline</h3>
          <Timeline job={job} />
          <h3>Attempts</h3>
          <Attempts job={job} logs={logs} />
          <JobErrorView job={job} />
          <h3>Outputs</h3>
          {(job.outputs ?? []).length === 0 ? <p class="muted">no committed outputs</p> : job.outputs!.map((o) => <OutputPreview key={o.name} jobId={id} output={o} />)}
          {(job.sinkDeliveries ?? []).length > 0 && (
            <>
              <h3>Sink deliveries</h3>
              <ul>
                {job.sinkDeliveries!.map((d, i) => (
                  <li key={i}>
                    {d.output} → {d.sink}: {d.state} {d.error}
                  </li>
                ))}
              </ul>
            </>
          )}
          <h3>Logs</h3>
          <Logs logs={logs} />
        </>
      )}
    </div>
  );
}
