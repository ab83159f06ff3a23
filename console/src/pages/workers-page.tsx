/** Workers: slots, environments, isolation (env mode), heartbeat and replica, polled. */
import { call } from '../api/client';
import type { WorkerInfo } from '../api/types';
import { ErrorBox } from '../components/error-box';
import { ago, time } from '../format';
import { href } from '../router';
import { useLoad } from '../use-api';

/**
 * A heartbeat older than this is called late: three beats at the default
 * CASPARIAN_HEARTBEAT_MS (5 s). The console cannot read the Sentinel's
 * setting, so the age itself is shown beside the label.
 */
const LATE_MS = 15_000;

function health(w: WorkerInfo, now: number): string {
  if (w.draining) return 'draining';
  const last = w.lastHeartbeatAt ? Date.parse(w.lastHeartbeatAt) : NaN;
  if (Number.isNaN(last)) return 'no heartbeat yet';
  return now - last > LATE_MS ? 'heartbeat late' : 'healthy';
}

export function WorkersPage() {
  const res = useLoad(() => call('ListWorkers', {}), [], 5_000);
  const workers = res.data?.workers ?? [];
  const now = Date.now();
  return (
    <div>
      <h2>Workers</h2>
      <ErrorBox error={res.error} title="ListWorkers" />
      {res.data?.dispatchPausedReason && <p class="error">Dispatch is paused: {res.data.dispatchPausedReason}</p>}
      <table class="list" aria-label="Workers">
        <thead>
          <tr>
            <th>Worker</th>
            <th>Host</th>
            <th>Version</th>
            <th>Slots (busy)</th>
            <th>Env mode</th>
            <th>Provisions</th>
            <th>Envs</th>
            <th>Health</th>
            <th>Last heartbeat</th>
            <th>Connected</th>
            <th>Replica</th>
          </tr>
        </thead>
        <tbody>
          {workers.map((w) => (
            <tr key={w.workerId} data-worker-id={w.workerId}>
              <td>{w.workerId}</td>
              <td>{w.hostname}</td>
              <td>{w.version}</td>
              <td>
                {w.slots ?? 0} ({w.busySlots ?? 0} busy)
              </td>
              <td>{w.envMode}</td>
              <td>{w.mayProvision ? 'yes' : 'no'}</td>
              <td>
                <a href={href(['envs'])}>{(w.envs ?? []).length}</a>
              </td>
              <td data-health>{health(w, now)}</td>
              <td title={time(w.lastHeartbeatAt)}>{ago(w.lastHeartbeatAt, now)}</td>
              <td>{time(w.connectedAt)}</td>
              <td>{w.sentinelReplica}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {!res.loading && workers.length === 0 && <p class="muted">no worker is connected</p>}
    </div>
  );
}
