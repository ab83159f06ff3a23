/** Query: one SQL statement over the datasets, run over SSE, the Arrow result shown as a table. */
import { useRef, useState } from 'preact/hooks';
import { call } from '../api/client';
import { isAbort } from '../api/errors';
import { quoteIdent, runQuery, type QueryResult } from '../api/query';
import { ErrorBox } from '../components/error-box';
import { GridTable } from '../components/grid-table';
import { bytes, num } from '../format';
import type { Route } from '../router';
import { useLoad } from '../use-api';

export function QueryPage({ route }: { route: Route }) {
  const [sql, setSql] = useState(route.query.get('sql') ?? '');
  const [maxRows, setMaxRows] = useState(1000);
  const [result, setResult] = useState<QueryResult | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [running, setRunning] = useState(false);
  const abort = useRef<AbortController | undefined>(undefined);
  const datasets = useLoad(() => call('ListDatasets', {}), []);

  const run = async (): Promise<void> => {
    abort.current?.abort();
    const ac = (abort.current = new AbortController());
    setRunning(true);
    setError(null);
    try {
      setResult(await runQuery(sql, { maxRows, signal: ac.signal }));
    } catch (err) {
      if (!isAbort(err)) {
        setResult(undefined);
        setError(err);
      }
    } finally {
      if (abort.current === ac) setRunning(false);
    }
  };

  return (
    <div>
      <h2>Query</h2>
      <div class="query-layout">
        <form
          class="query-form"
          onSubmit={(e) => {
            e.preventDefault();
            void run();
          }}
        >
          <textarea
            name="sql"
            rows={6}
            spellcheck={false}
            placeholder="SELECT * FROM my_dataset LIMIT 10"
            value={sql}
            onInput={(e) => setSql(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
                e.preventDefault();
                void run();
              }
            }}
          />
          <div class="buttons left">
            <button type="submit" class="primary" disabled={running || !sql.trim()}>
              {running ? 'Running…' : 'Run (Ctrl+Enter)'}
            </button>
            {running && (
              <button type="button" onClick={() => (abort.current?.abort(), setRunning(false))}>
                Stop
              </button>
            )}
            <label>
              Max rows <input type="number" min={1} value={maxRows} onInput={(e) => setMaxRows(Number(e.currentTarget.value) || 0)} />
            </label>
          </div>
        </form>
        <aside class="datasets" aria-label="Datasets">
          <b>Datasets</b>
          <ErrorBox error={datasets.error} />
          <ul class="plain">
            {(datasets.data?.datasets ?? []).map((d) => (
              <li key={d.name}>
                <a href="#/query" onClick={(e) => (e.preventDefault(), setSql(`SELECT * FROM ${quoteIdent(d.name ?? '')} LIMIT 100`))}>
                  {d.name}
                </a>{' '}
                <span class="muted">
                  {num(d.rows)} rows, {bytes(d.sizeBytes)}, {d.jobs ?? 0} jobs
                </span>
              </li>
            ))}
          </ul>
          {datasets.data && (datasets.data.datasets ?? []).length === 0 && <p class="muted">none yet</p>}
        </aside>
      </div>
      <ErrorBox error={error} title="Query failed" />
      {result && (
        <section aria-label="Result">
          <p class="summary" data-rows={num(result.summary.rows)} data-truncated={result.summary.truncated ? 'true' : 'false'}>
            {num(result.summary.rows)} rows in {result.summary.elapsedMs ?? 0} ms
            {result.summary.truncated && <b class="warn"> — truncated: the result was cut at the row or size limit</b>}
          </p>
          <GridTable grid={result} label="Query result" />
        </section>
      )}
    </div>
  );
}
