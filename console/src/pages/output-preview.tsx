/** One committed output of a job: its schema, and its first rows read back through Query. */
import { useLoad } from '../use-api';
import { previewSql, runQuery } from '../api/query';
import type { OutputInfo } from '../api/types';
import { ErrorBox } from '../components/error-box';
import { GridTable } from '../components/grid-table';
import { bytes, num } from '../format';

const PREVIEW_ROWS = 20;

export function OutputPreview({ jobId, output }: { jobId: string; output: OutputInfo }) {
  const name = output.name ?? '';
  const sql = previewSql(name, jobId, PREVIEW_ROWS);
  const preview = useLoad((signal) => runQuery(sql, { signal }), [sql]);
  return (
    <section class="output" aria-label={`Output ${name}`} data-output={name}>
      <h4>
        {name} <span class="muted">{num(output.rows)} rows, {bytes(output.sizeBytes)}</span>
      </h4>
      <table class="list schema" aria-label={`Schema of ${name}`}>
        <thead>
          <tr>
            <th>Column</th>
            <th>Type</th>
            <th>Nullable</th>
          </tr>
        </thead>
        <tbody>
          {(output.columns ?? []).map((c) => (
            <tr key={c.name}>
              <td>{c.name}</td>
              <td>{c.type}</td>
              <td>{c.nullable ? 'yes' : 'no'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="muted">
        First rows: <code>{sql}</code>
      </div>
      <ErrorBox error={preview.error} title="Preview" />
      {preview.loading && !preview.data && <p class="muted">loading…</p>}
      {preview.data && <GridTable grid={preview.data} label={`Preview of ${name}`} />}
    </section>
  );
}
