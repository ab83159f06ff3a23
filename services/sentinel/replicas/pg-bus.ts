/**
 * The replica bus on PostgreSQL: NOTIFY on one channel, LISTEN on a
 * dedicated connection (a pooled one cannot listen).
 *
 * Messages published in one turn of the event loop go out together, as JSON
 * arrays of at most MAX_PAYLOAD bytes per NOTIFY (the server's limit is 8000);
 * kicks and plugin refreshes are sent once per flush, however many were asked
 * for. Flushes never overlap, so messages arrive in the order they were
 * published. A log line too long for one notification is cut (the whole line
 * is in job_logs). Every replica receives its own notifications too; they
 * carry the sender's id and are dropped.
 *
 * The listening connection is re-opened with backoff when it fails (a
 * restarted server); then `resync` is called.
 */
import pg from 'pg';
import { sql } from 'kysely';
import type { Db } from '../db/open-database';
import type { Logger } from '../../common/logger';
import type { BusHandlers, BusMessage, ReplicaBus } from './replica-bus';

export const CHANNEL = 'casparian_replicas';
const MAX_PAYLOAD = 7_800;
const MAX_LOG_CHARS = 1_500;

export class PgBus implements ReplicaBus {
  private pending: BusMessage[] = [];
  private flushing: Promise<void> | undefined;
  private scheduled = false;
  private listener: pg.Client | undefined;
  private handlers: BusHandlers | undefined;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = 250;
  /** Notifications sent and received (for tests and metrics). */
  readonly counts = { sent: 0, received: 0 };
  readonly replicated = true;

  constructor(
    readonly replicaId: string,
    private readonly d: { db: Db; url: string; logger: Logger },
  ) {}

  async start(h: BusHandlers): Promise<void> {
    this.handlers = h;
    await this.listen();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.flushing;
    const l = this.listener;
    this.listener = undefined;
    await l?.end().catch(() => undefined);
  }

  publish(m: BusMessage): void {
    if (this.stopped) return;
    if ((m.kind === 'kick' || m.kind === 'plugins') && this.pending.some((p) => p.kind === m.kind)) return;
    if (m.kind === 'log' && m.message.length > MAX_LOG_CHARS) m = { ...m, message: `${m.message.slice(0, MAX_LOG_CHARS)}… (cut; the whole line is in the job's logs)` };
    this.pending.push(m);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        void this.flush();
      });
    }
  }

  private async flush(): Promise<void> {
    if (this.flushing) {
      await this.flushing;
      if (this.pending.length === 0) return;
    }
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    this.flushing = this.send(batch).finally(() => (this.flushing = undefined));
    await this.flushing;
    if (this.pending.length && !this.scheduled) void this.flush();
  }

  private async send(batch: BusMessage[]): Promise<void> {
    for (const payload of packPayloads(this.replicaId, batch)) {
      try {
        await sql`select pg_notify(${CHANNEL}, ${payload})`.execute(this.d.db);
        this.counts.sent++;
      } catch (err) {
        // The database is away: other replicas will catch up by polling.
        this.d.logger.debug('replica notification not sent', { error: (err as Error).message });
      }
    }
  }

  /** Open the listening connection; on failure, try again later. True once listening. */
  private async listen(): Promise<boolean> {
    if (this.stopped) return false;
    const client = new pg.Client({ connectionString: this.d.url });
    const lost = (why: string) => {
      if (this.listener !== client) return;
      this.listener = undefined;
      client.end().catch(() => undefined);
      if (this.stopped) return;
      this.d.logger.warn('replica notifications lost; reconnecting', { error: why, retryMs: this.retryMs });
      this.retryTimer = setTimeout(() => void this.reconnect(), this.retryMs);
      this.retryTimer.unref();
      this.retryMs = Math.min(this.retryMs * 2, 5_000);
    };
    client.on('error', (err) => lost(err.message));
    client.on('end', () => lost('connection ended'));
    client.on('notification', (n) => this.received(n.payload));
    this.listener = client;
    try {
      await client.connect();
      await client.query(`listen ${CHANNEL}`);
    } catch (err) {
      lost((err as Error).message);
      return false;
    }
    this.retryMs = 250;
    return true;
  }

  private async reconnect(): Promise<void> {
    if (await this.listen()) {
      this.d.logger.info('replica notifications back');
      this.handlers?.resync();
    }
  }

  private received(payload: string | undefined): void {
    if (!payload) return;
    let parsed: { r?: string; m?: BusMessage[] };
    try {
      parsed = JSON.parse(payload) as { r?: string; m?: BusMessage[] };
    } catch {
      return;
    }
    if (parsed.r === this.replicaId || !Array.isArray(parsed.m)) return;
    this.counts.received++;
    for (const m of parsed.m) {
      try {
        this.handlers?.message(m);
      } catch (err) {
        this.d.logger.error('replica message failed', { kind: m?.kind, error: (err as Error).message });
      }
    }
  }
}

/** Messages as NOTIFY payloads: `{"r": sender, "m": [...]}`, each at most MAX_PAYLOAD bytes. */
export function packPayloads(replicaId: string, batch: readonly BusMessage[]): string[] {
  const out: string[] = [];
  const head = `{"r":${JSON.stringify(replicaId)},"m":[`;
  let parts: string[] = [];
  let size = head.length + 2;
  for (const m of batch) {
    const s = JSON.stringify(m);
    const bytes = Buffer.byteLength(s);
    if (bytes + head.length + 2 > MAX_PAYLOAD) continue; // cannot happen after the log cut; never send what the server refuses
    if (parts.length && size + bytes + 1 > MAX_PAYLOAD) {
      out.push(`${head}${parts.join(',')}]}`);
      parts = [];
      size = head.length + 2;
    }
    parts.push(s);
    size += bytes + 1;
  }
  if (parts.length) out.push(`${head}${parts.join(',')}]}`);
  return out;
}
