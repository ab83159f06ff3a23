/**
 * Delivering committed outputs to their sink routes (routes.ts), as an
 * outbox: the rows of `sink_deliveries` are inserted in the transaction that
 * commits the job (queue/complete.ts), so a job is committed with all its
 * deliveries or with none; they are carried out after it, and again after
 * a crash, until done. Each delivery is idempotent, so doing one twice (a
 * crash after the sink was written but before the row was marked) changes
 * nothing:
 *
 *   parquet, arrow  the file is written under a temporary name and renamed
 *                   to TARGET/{output}/part-{job}.parquet|.arrows;
 *   sqlite          one transaction on TARGET deletes the job's rows (by
 *                   _cf_job_id; every row of the table in replace mode) and
 *                   inserts them again.
 *
 * A failed or cancelled attempt has no delivery rows, so it leaves nothing in
 * any sink. Mode `error` is checked before the commit (conflicts()): a target
 * that already holds data fails the job as SINK_CONFLICT, with nothing
 * committed.
 */
import { createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { finished } from 'node:stream/promises';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import * as arrow from 'apache-arrow';
import type { Clock } from '../clock';
import type { Db } from '../db/open-database';
import { runExclusive } from '../db/singleton';
import type { Selectable } from 'kysely';
import type { SinkDeliveriesTable } from '../db/schema';
import type { Logger } from '../../common/logger';
import type { OutputStore } from './output-store';
import { resolveTarget, routesFor, type SinkKind, type SinkMode, type SinkRoute } from './routes';

export type DeliveryRow = Omit<SinkDeliveriesTable, 'tries'>;
type StoredDelivery = Selectable<SinkDeliveriesTable>;

const RETRY_MS = [1_000, 5_000, 30_000, 120_000];
const PART_RE = /^part-.+\.(parquet|arrows)$/;

/** The outbox rows of a commit: one per (output, route). */
export function deliveryRows(jobId: string, outputs: readonly { name: string }[], routes: readonly SinkRoute[], now: number): DeliveryRow[] {
  return outputs.flatMap((o) =>
    routesFor(routes, o.name).map((r) => ({ job_id: jobId, output: o.name, kind: r.kind, target: r.target, mode: r.mode, state: 'pending', error: null, next_at: now, updated_at: now })),
  );
}

/** A problem of the sink itself (a table that cannot take the rows): not retried. */
class PermanentSinkError extends Error {}

export class SinkDelivery {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly d: { db: Db; store: OutputStore; dataDir: string; logger: Logger; clock: Clock; everyMs?: number },
  ) {}

  /** Deliver what is due now and then every few seconds (pending rows left by a crash included). */
  start(): void {
    this.kick();
    this.timer = setInterval(() => this.kick(), this.d.everyMs ?? 2_000);
    this.timer.unref();
  }

  /** Stop passes (what is pending stays pending, for the next start). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Run a delivery pass soon (after a commit); passes never overlap. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    // Replicas share the outbox: one delivers at a time (the others' passes skip), so no two write one target at once.
    this.running = runExclusive(this.d.db, 'sinks', () => this.pass())
      .then(() => undefined)
      .catch((err) => this.d.logger.error('sink delivery pass failed', { error: (err as Error).message }))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Why committing outputs `names` would break a route in mode `error` (its target already holds data), or ''. */
  async conflicts(routes: readonly SinkRoute[], names: readonly string[]): Promise<string> {
    for (const name of names) {
      for (const r of routesFor(routes, name).filter((x) => x.mode === 'error')) {
        if (await this.holdsData(r, name)) return `sink ${r.kind}:${r.target} already holds output ${JSON.stringify(name)} and its mode is error`;
      }
    }
    return '';
  }

  private async holdsData(r: SinkRoute, output: string): Promise<boolean> {
    const target = resolveTarget(r, this.d.dataDir);
    if (r.kind !== 'sqlite') {
      const names = await fs.readdir(path.join(target, output)).catch(() => [] as string[]);
      return names.some((n) => PART_RE.test(n));
    }
    try {
      await fs.access(target);
    } catch {
      return false;
    }
    const db = new Database(target, { readonly: true, timeout: 5_000 });
    try {
      const exists = db.prepare('select 1 from sqlite_master where type = ? and name = ?').get('table', output);
      return Boolean(exists && db.prepare(`select 1 from "${output}" limit 1`).get());
    } finally {
      db.close();
    }
  }

  private async pass(): Promise<void> {
    for (;;) {
      const now = this.d.clock.now();
      const due = await this.d.db.selectFrom('sink_deliveries').selectAll().where('state', '=', 'pending').where('next_at', '<=', now).orderBy('next_at').limit(20).execute();
      if (!due.length) return;
      for (const row of due) await this.deliverRow(row);
    }
  }

  private async deliverRow(row: StoredDelivery): Promise<void> {
    const key = (q: any) => q.where('job_id', '=', row.job_id).where('output', '=', row.output).where('kind', '=', row.kind).where('target', '=', row.target);
    const log = this.d.logger.scope({ jobId: row.job_id, output: row.output, sink: `${row.kind}:${row.target}` });
    try {
      const out = await this.d.db.selectFrom('outputs').select(['parquet_path']).where('job_id', '=', row.job_id).where('name', '=', row.output).executeTakeFirst();
      if (!out) throw new PermanentSinkError('the output is no longer committed (purged)');
      await this.deliver(row.kind as SinkKind, resolveTarget(row, this.d.dataDir), row.mode as SinkMode, row.job_id, row.output, out.parquet_path);
      await key(this.d.db.updateTable('sink_deliveries').set({ state: 'delivered', error: null, updated_at: this.d.clock.now() })).execute();
      log.info('output delivered to its sink');
    } catch (err) {
      const message = (err as Error).message;
      const permanent = err instanceof PermanentSinkError;
      const tries = row.tries + 1;
      const next = this.d.clock.now() + RETRY_MS[Math.min(tries - 1, RETRY_MS.length - 1)];
      await key(
        this.d.db.updateTable('sink_deliveries').set({ state: permanent ? 'failed' : 'pending', error: message, tries, next_at: next, updated_at: this.d.clock.now() }),
      ).execute();
      log.warn(permanent ? 'sink delivery failed for good' : 'sink delivery failed; will retry', { error: message, tries });
    }
  }

  private async deliver(kind: SinkKind, target: string, mode: SinkMode, jobId: string, output: string, parquetPath: string): Promise<void> {
    if (kind === 'sqlite') return this.deliverSqlite(target, mode, jobId, output, parquetPath);
    const dir = path.join(target, output);
    await fs.mkdir(dir, { recursive: true });
    const name = `part-${jobId}.${kind === 'parquet' ? 'parquet' : 'arrows'}`;
    // What an earlier try of this delivery left when its process died.
    for (const stale of await fs.readdir(dir)) if (stale.startsWith(`.${name}.`)) await fs.rm(path.join(dir, stale), { force: true });
    const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
    if (kind === 'parquet') {
      await fs.copyFile(parquetPath, tmp);
    } else {
      const ws = createWriteStream(tmp);
      for await (const piece of this.d.store.readAsIpc(parquetPath, 1 << 20)) if (!ws.write(piece)) await new Promise<void>((r) => ws.once('drain', () => r()));
      ws.end();
      await finished(ws);
    }
    const fh = await fs.open(tmp, 'r');
    await fh.sync();
    await fh.close();
    await fs.rename(tmp, path.join(dir, name));
    if (mode === 'replace') {
      for (const other of await fs.readdir(dir)) if (PART_RE.test(other) && other !== name) await fs.rm(path.join(dir, other), { force: true });
    }
  }

  private async deliverSqlite(target: string, mode: SinkMode, jobId: string, output: string, parquetPath: string): Promise<void> {
    // Batch by batch: the output is never held whole.
    const reader = await arrow.RecordBatchReader.from(this.d.store.readAsIpc(parquetPath, 1 << 20));
    await reader.open();
    const columns = reader.schema.fields.map((f) => ({ name: f.name, type: sqliteType(f.type), field: f }));
    const hasJobId = columns.some((c) => c.name === '_cf_job_id');
    await fs.mkdir(path.dirname(target), { recursive: true });
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new Database(target, { timeout: 10_000 }) }) });
    try {
      await db.transaction().execute(async (trx) => {
        const existing = (await sql<{ name: string }>`select name from pragma_table_info(${output})`.execute(trx)).rows.map((r) => r.name);
        if (!existing.length) {
          let create = trx.schema.createTable(output);
          for (const c of columns) create = create.addColumn(c.name, c.type as any);
          if (!hasJobId) create = create.addColumn('_cf_job_id', 'text');
          await create.execute();
        } else {
          for (const c of columns.filter((x) => !existing.includes(x.name))) await trx.schema.alterTable(output).addColumn(c.name, c.type as any).execute();
          if (!hasJobId && !existing.includes('_cf_job_id')) throw new PermanentSinkError(`table ${output} in ${target} has no _cf_job_id column to keep deliveries idempotent`);
        }
        if (mode === 'replace') await trx.deleteFrom(output).execute();
        else await trx.deleteFrom(output).where('_cf_job_id', '=', jobId).execute();
        const per = Math.max(1, Math.floor(30_000 / (columns.length + 1)));
        let batch: Record<string, unknown>[] = [];
        for await (const records of reader) {
          for (const row of rowsOf(records, columns)) {
            if (!hasJobId) row._cf_job_id = jobId;
            batch.push(row);
            if (batch.length >= per) {
              await trx.insertInto(output).values(batch).execute();
              batch = [];
            }
          }
        }
        if (batch.length) await trx.insertInto(output).values(batch).execute();
      });
    } finally {
      await db.destroy();
    }
  }
}

function sqliteType(t: arrow.DataType): string {
  if (arrow.DataType.isInt(t) || arrow.DataType.isBool(t)) return 'integer';
  if (arrow.DataType.isFloat(t)) return 'real';
  if (arrow.DataType.isBinary(t) || arrow.DataType.isFixedSizeBinary(t)) return 'blob';
  return 'text';
}

/** A batch's rows as SQLite values: integers stay exact (bigint), times become ISO-8601 text, nested values JSON. */
function* rowsOf(batch: arrow.RecordBatch, columns: { name: string; field: arrow.Field }[]): Generator<Record<string, unknown>> {
  const vecs = columns.map((c) => batch.getChild(c.name)!);
  for (let i = 0; i < batch.numRows; i++) {
    const row: Record<string, unknown> = {};
    columns.forEach((c, k) => (row[c.name] = sqliteValue(vecs[k].get(i), c.field.type)));
    yield row;
  }
}

function sqliteValue(v: unknown, t: arrow.DataType): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof Date) return v.toISOString();
  if ((arrow.DataType.isTimestamp(t) || arrow.DataType.isDate(t)) && (typeof v === 'number' || typeof v === 'bigint')) return new Date(Number(v)).toISOString();
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v);
  if (arrow.DataType.isDecimal(t)) return String(v);
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
}
