/**
 * Environments: there is no environment RPC, so this is ListWorkers' envs
 * grouped by env hash (which workers hold each, in what state), with the
 * plugin versions that run in each (ListPlugins' env hashes).
 */
import { call } from '../api/client';
import type { EnvInfo, Plugin } from '../api/types';
import { ErrorBox } from '../components/error-box';
import { bytes, short } from '../format';
import { useLoad } from '../use-api';

interface EnvRow {
  hash: string;
  holders: { worker: string; env: EnvInfo }[];
  plugins: Plugin[];
}

export function EnvsPage() {
  const res = useLoad(async () => {
    const [w, p] = await Promise.all([call('ListWorkers', {}), call('ListPlugins', {})]);
    return { workers: w.workers ?? [], plugins: p.plugins ?? [] };
  }, [], 10_000);
  const byHash = new Map<string, EnvRow>();
  const row = (hash: string): EnvRow => {
    let r = byHash.get(hash);
    if (!r) byHash.set(hash, (r = { hash, holders: [], plugins: [] }));
    return r;
  };
  for (const w of res.data?.workers ?? []) for (const e of w.envs ?? []) row(e.envHash ?? '').holders.push({ worker: w.workerId ?? '', env: e });
  for (const p of res.data?.plugins ?? []) if (byHash.has(p.envHash ?? '')) row(p.envHash ?? '').plugins.push(p);
  const rows = [...byHash.values()].sort((a, b) => a.hash.localeCompare(b.hash));
  return (
    <div>
      <h2>Environments</h2>
      <p class="muted">The environments the connected workers hold, by env hash (the sha256 of a plugin's lockfile).</p>
      <ErrorBox error={res.error} />
      <table class="list" aria-label="Environments">
        <thead>
          <tr>
            <th>Env hash</th>
            <th>Plugins</th>
            <th>Worker</th>
            <th>Status</th>
            <th>Backend</th>
            <th>Python</th>
            <th>Size</th>
            <th>Problem</th>
          </tr>
        </thead>
        <tbody>
          {rows.flatMap((r) =>
            r.holders.map((h, i) => (
              <tr key={`${r.hash}/${h.worker}`} data-env-hash={r.hash}>
                {i === 0 && (
                  <td rowSpan={r.holders.length} title={r.hash}>
                    <code>{short(r.hash, 16)}</code>
                  </td>
                )}
                {i === 0 && <td rowSpan={r.holders.length}>{r.plugins.map((p) => `${p.name}@${p.version}`).join(', ') || '—'}</td>}
                <td>{h.worker}</td>
                <td>{h.env.status}</td>
                <td>{h.env.backend}</td>
                <td>{h.env.pythonVersion}</td>
                <td>{bytes(h.env.sizeBytes)}</td>
                <td class="why">{h.env.problem}</td>
              </tr>
            )),
          )}
        </tbody>
      </table>
      {!res.loading && rows.length === 0 && <p class="muted">no worker holds an environment yet</p>}
    </div>
  );
}
