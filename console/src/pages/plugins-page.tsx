/** Plugins: every published version with its manifest, contracts, sinks and breaker; pause and resume. */
import { call } from '../api/client';
import type { Plugin } from '../api/types';
import { ActionButton } from '../components/action-button';
import { ErrorBox } from '../components/error-box';
import { short, time } from '../format';
import { href } from '../router';
import { useLoad } from '../use-api';

function Manifest({ p }: { p: Plugin }) {
  const m = p.manifest ?? {};
  const t = m.timeouts ?? {};
  const parts = [
    m.isolation && `isolation ${m.isolation}`,
    m.maxAttempts && `max attempts ${m.maxAttempts}`,
    m.maxConcurrency && `max concurrency ${m.maxConcurrency}`,
    t.startToCloseMs && `start-to-close ${t.startToCloseMs} ms`,
    t.idleMs && `idle ${t.idleMs} ms`,
    t.scheduleToStartMs && `schedule-to-start ${t.scheduleToStartMs} ms`,
    m.limits?.memoryMb && `memory ${m.limits.memoryMb} MB`,
    m.limits?.cpuSeconds && `cpu ${m.limits.cpuSeconds} s`,
    m.backoff?.initialMs && `backoff ${m.backoff.initialMs} ms ×${m.backoff.multiplier ?? 1} ≤ ${m.backoff.maxMs ?? '?'} ms`,
    (m.envAllow ?? []).length > 0 && `env ${m.envAllow!.join(', ')}`,
  ].filter(Boolean);
  return (
    <div>
      {m.description && <div>{m.description}</div>}
      <div class="muted">{parts.join(' · ') || 'defaults'}</div>
    </div>
  );
}

function Contracts({ p }: { p: Plugin }) {
  const cs = p.contracts ?? [];
  if (cs.length === 0) return <span class="muted">none</span>;
  return (
    <ul class="plain">
      {cs.map((c) => (
        <li key={c.output}>
          <b>{c.output}</b>: {(c.columns ?? []).map((col) => `${col.name} ${col.type}${col.nullable ? '' : ' not null'}`).join(', ')}
          {c.maxQuarantineFraction ? ` · quarantine ≤ ${c.maxQuarantineFraction}` : ''}
          {c.maxQuarantineRows ? ` · ≤ ${c.maxQuarantineRows} rows` : ''}
        </li>
      ))}
    </ul>
  );
}

export function PluginsPage() {
  const res = useLoad(() => call('ListPlugins', {}), [], 10_000);
  const plugins = res.data?.plugins ?? [];
  return (
    <div>
      <h2>Plugins</h2>
      <ErrorBox error={res.error} title="ListPlugins" />
      <table class="list" aria-label="Plugins">
        <thead>
          <tr>
            <th>Plugin</th>
            <th>Published</th>
            <th>Manifest</th>
            <th>Contracts</th>
            <th>Sinks</th>
            <th>Env / artifact / key</th>
            <th>Breaker</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {plugins.map((p) => (
            <tr key={`${p.name}@${p.version}`} data-plugin={`${p.name}@${p.version}`} data-paused={p.paused ? 'true' : 'false'}>
              <td>
                <a href={href(['jobs'], { plugin: p.name })}>{p.name}</a>@{p.version}
              </td>
              <td>{time(p.createdAt)}</td>
              <td>
                <Manifest p={p} />
              </td>
              <td>
                <Contracts p={p} />
              </td>
              <td>{(p.sinks ?? []).map((s) => `${s.output} → ${s.kind} ${s.target} (${s.mode})`).join('; ') || <span class="muted">none</span>}</td>
              <td>
                <code title={p.envHash}>{short(p.envHash)}</code> / <code title={p.artifactHash}>{short(p.artifactHash)}</code>
                {p.signingKeyId ? ` / ${p.signingKeyId}` : ' / unsigned'}
              </td>
              <td data-breaker>
                {p.paused ? <b class="paused">paused</b> : 'active'}
                {p.pausedReason ? `: ${p.pausedReason}` : ''}
                <div class="muted">{p.consecutiveFailures ?? 0} consecutive failures</div>
              </td>
              <td>
                {p.paused ? (
                  <ActionButton label="Resume" title={`Resume ${p.name}@${p.version}`} run={() => call('ResumePlugin', { name: p.name!, version: p.version! })} onDone={res.reload}>
                    <p>Its queued jobs become dispatchable again and its consecutive-failure count is reset.</p>
                  </ActionButton>
                ) : (
                  <ActionButton label="Pause" title={`Pause ${p.name}@${p.version}`} reasonLabel="Reason" danger run={({ reason }) => call('PausePlugin', { name: p.name!, version: p.version!, reason })} onDone={res.reload}>
                    <p>Its queued jobs stay queued until it is resumed; running attempts finish.</p>
                  </ActionButton>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {!res.loading && plugins.length === 0 && <p class="muted">no plugin published yet</p>}
    </div>
  );
}
