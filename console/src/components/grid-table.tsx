import type { Grid } from '../api/arrow';

/** Rows decoded from Arrow, with each column's name and type in the header. */
export function GridTable({ grid, label }: { grid: Grid; label: string }) {
  if (grid.columns.length === 0) return <p class="muted">no columns</p>;
  return (
    <div class="scroll">
      <table class="grid" aria-label={label}>
        <thead>
          <tr>
            {grid.columns.map((c) => (
              <th key={c.name} title={c.type}>
                {c.name}
                <div class="coltype">{c.type}</div>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {grid.rows.map((r, i) => (
            <tr key={i}>
              {r.map((v, j) => (
                <td key={j} class={v === 'null' ? 'muted' : ''}>{v}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
