/**
 * Copy one Sentinel store into another, empty one (`casparian db copy`): how
 * a SQLite store moves to PostgreSQL, or back. Both stores must be open and
 * migrated to the same schema (openDatabase does both).
 *
 * Contract:
 *  - The target must be empty: copyStore throws TargetNotEmptyError, writing
 *    nothing, if any copied table holds a row.
 *  - Every table of schema.ts but the live ones (SKIPPED_TABLES) is copied
 *    whole, in primary-key order, a page at a time, with its serial keys (`seq`, `id`) as they are; afterwards
 *    the target's serial counters continue where the source's would have.
 *  - All writes are one transaction on the target: a failed copy leaves the
 *    target as empty as it was.
 *  - The source is read in one transaction (a snapshot on PostgreSQL, and on
 *    SQLite in WAL mode), but nothing locks it against writers: a Sentinel
 *    still running on it would go on writing rows the copy never sees.
 *  - Files are not moved: `outputs.parquet_path` holds absolute paths, which
 *    the copy keeps, or moves from one root to another (rewriteOutputRoot).
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import { storeKind } from './dialect';
import type { Database } from './schema';
import type { Db } from './open-database';
import { OutputRoots, rewriteOutputPath, type OutputRootRewrite } from './output-paths';
import { nextSerialValue, setNextSerialValue } from './serial-counters';

export interface CopiedTable {
  name: keyof Database;
  /** The primary key: the order rows are read and copied in. */
  key: readonly string[];
  /** The serial column (the whole key), whose counter the copy carries over. */
  serial?: string;
}

/** The tables copied: with SKIPPED_TABLES, every table of schema.ts (a unit test checks the migrated schema). */
export const COPIED_TABLES: readonly CopiedTable[] = [
  { name: 'plugins', key: ['seq'], serial: 'seq' },
  { name: 'batches', key: ['id'] },
  { name: 'jobs', key: ['seq'], serial: 'seq' },
  { name: 'outputs', key: ['job_id', 'name'] },
  { name: 'job_logs', key: ['id'], serial: 'id' },
  { name: 'sink_deliveries', key: ['job_id', 'output', 'kind', 'target'] },
  { name: 'scanned_files', key: ['plugin_name', 'path'] },
];

/** Tables of schema.ts that are not copied, and why. */
export const SKIPPED_TABLES: Readonly<Partial<Record<keyof Database, string>>> = {
  worker_sessions: 'the workers connected to each running replica: rewritten by the new Sentinels as workers connect to them',
};

export const DEFAULT_PAGE_SIZE = 1000;
/** Bind parameters per INSERT: below SQLite's limit (32766) and PostgreSQL's (65535). */
const MAX_PARAMS = 30_000;

export interface CopyOptions {
  /** Rows read (and held in memory) at a time; default 1000. */
  pageSize?: number;
  /** Move `outputs.parquet_path` values from one root directory to another. */
  rewriteOutputRoot?: OutputRootRewrite;
  /** Told after each page, and once more when a table is done. */
  onProgress?: (p: TableProgress) => void;
}

export interface TableProgress {
  table: string;
  copied: number;
  /** Rows the table held when the copy began. */
  total: number;
  done: boolean;
}

export interface CopyReport {
  /** Rows copied, per table, in the order copied. */
  tables: { table: string; rows: number }[];
  /** The output roots the copied `parquet_path` values lie under (after any rewrite); at most 20. */
  outputRoots: string[];
  /** Output rows whose path was rewritten, and rows left as they were because they lie elsewhere. */
  rewrittenOutputs: number;
  outputsNotRewritten: number;
}

/** The target already holds rows; nothing was written. */
export class TargetNotEmptyError extends Error {
  constructor(readonly rows: Record<string, number>) {
    super(`the target store is not empty (${Object.entries(rows).map(([t, n]) => `${t}: ${n} rows`).join(', ')})`);
  }
}

/** The target refused a page of rows; the whole copy was rolled back. */
export class CopyRowError extends Error {
  constructor(
    message: string,
    readonly table: string,
    override readonly cause: unknown,
  ) {
    super(message);
  }
}

export async function copyStore(source: Db, target: Db, o: CopyOptions = {}): Promise<CopyReport> {
  const pageSize = o.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new RangeError(`pageSize must be a positive integer, got ${pageSize}`);
  const roots = new OutputRoots(20);
  const report: CopyReport = { tables: [], outputRoots: [], rewrittenOutputs: 0, outputsNotRewritten: 0 };
  // Repeatable read: every page (and the counts) from one snapshot on PostgreSQL. SQLite's driver ignores
  // both settings; its transaction reads one snapshot in WAL mode anyway.
  await source
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (src) =>
      target.transaction().execute(async (dst) => {
        await claimEmptyTarget(dst);
        const counters: { table: CopiedTable; next: number }[] = [];
        for (const table of COPIED_TABLES) {
          const total = await countRows(src, table.name);
          let copied = 0;
          let last: Record<string, unknown> | undefined;
          for (;;) {
            const page = await readPage(src, table, last, pageSize);
            if (page.length === 0) break;
            if (table.name === 'outputs') {
              for (const row of page) {
                const p = row.parquet_path as string;
                const moved = o.rewriteOutputRoot ? rewriteOutputPath(p, o.rewriteOutputRoot) : undefined;
                if (moved !== undefined) row.parquet_path = moved;
                if (o.rewriteOutputRoot) report[moved !== undefined ? 'rewrittenOutputs' : 'outputsNotRewritten']++;
                roots.add(row.parquet_path as string);
              }
            }
            await insertPage(dst, table, page);
            copied += page.length;
            last = page[page.length - 1];
            o.onProgress?.({ table: table.name, copied, total, done: false });
          }
          if (table.serial) counters.push({ table, next: await nextSerialValue(src, table.name, table.serial, last?.[table.serial]) });
          o.onProgress?.({ table: table.name, copied, total, done: true });
          report.tables.push({ table: table.name, rows: copied });
        }
        // Last: PostgreSQL's setval is not undone by a rollback, so a copy that fails before here leaves the counters alone.
        for (const c of counters) await setNextSerialValue(dst, c.table.name, c.table.serial!, c.next);
      }),
    );
  report.outputRoots = roots.list();
  return report;
}

/**
 * Check that the target is empty, inside the copy's transaction. On
 * PostgreSQL the tables are locked first (writers wait, readers do not), so a
 * Sentinel started on the target meanwhile cannot slip rows in.
 */
async function claimEmptyTarget(dst: Transaction<Database>): Promise<void> {
  if (storeKind(dst) === 'postgres') {
    await sql`lock table ${sql.join(COPIED_TABLES.map((t) => sql.table(t.name)))} in exclusive mode`.execute(dst);
  }
  const rows: Record<string, number> = {};
  for (const t of COPIED_TABLES) {
    const n = await countRows(dst, t.name);
    if (n > 0) rows[t.name] = n;
  }
  if (Object.keys(rows).length) throw new TargetNotEmptyError(rows);
}

async function countRows(db: Kysely<Database>, table: keyof Database): Promise<number> {
  const r = await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

/** The next `limit` rows after `last` in key order (keyset paging: each page is an index range scan). */
async function readPage(src: Kysely<Database>, t: CopiedTable, last: Record<string, unknown> | undefined, limit: number): Promise<Record<string, unknown>[]> {
  const db = src as unknown as Kysely<any>;
  const cols = sql.join(t.key.map((k) => sql.ref(k)));
  const after = last ? sql`where (${cols}) > (${sql.join(t.key.map((k) => last[k]))})` : sql``;
  const r = await sql<Record<string, unknown>>`select * from ${sql.table(t.name)} ${after} order by ${cols} limit ${limit}`.execute(db);
  return r.rows;
}

async function insertPage(dst: Transaction<Database>, t: CopiedTable, rows: Record<string, unknown>[]): Promise<void> {
  const perStatement = Math.max(1, Math.floor(MAX_PARAMS / Object.keys(rows[0]).length));
  for (let i = 0; i < rows.length; i += perStatement) {
    const chunk = rows.slice(i, i + perStatement);
    try {
      await (dst as unknown as Kysely<any>).insertInto(t.name).values(chunk).execute();
    } catch (err) {
      throw new CopyRowError(describeRefusal(t, chunk, err), t.name, err);
    }
  }
}

/** Which rows the target refused and why; names the row and column when a NUL character is the reason (PostgreSQL text cannot hold one). */
function describeRefusal(t: CopiedTable, rows: Record<string, unknown>[], err: unknown): string {
  const keyOf = (r: Record<string, unknown>) => t.key.map((k) => `${k}=${JSON.stringify(r[k])}`).join(' ');
  const why = (err as Error)?.message ?? String(err);
  for (const r of rows) {
    const col = Object.keys(r).find((c) => typeof r[c] === 'string' && (r[c] as string).includes('\0'));
    if (col) return `${t.name} row ${keyOf(r)}: the target refused it (${why}); its ${col} holds a NUL character, which PostgreSQL text cannot store`;
  }
  return `${t.name} rows ${keyOf(rows[0])} … ${keyOf(rows[rows.length - 1])}: the target refused them (${why})`;
}
