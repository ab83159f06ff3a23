/**
 * Runs one client SQL statement over the committed datasets in a throwaway,
 * locked-down DuckDB (in memory, one per query):
 *
 * - one temporary view per dataset over exactly the files the database says
 *   are committed (so an attempt whose rows are still being written, or that
 *   is about to be purged, is never read);
 * - then `allowed_paths` = those files, `enable_external_access = false` and
 *   `lock_configuration = true`: no other file, extension, ATTACH or SET can be
 *   reached by the statement, and the memory and thread limits stay put;
 * - exactly one statement, of type SELECT (which covers WITH, SHOW, DESCRIBE,
 *   SUMMARIZE, PRAGMA of read-only functions) or EXPLAIN; anything else is refused
 *   before it runs;
 * - results are cut at `maxRows` rows or `maxBytes` of Arrow, and the query is
 *   interrupted at `timeoutMs` or when `cancelled()` turns true.
 */
import * as arrow from 'apache-arrow';
import { DuckDBInstance, StatementType, type DuckDBConnection } from '@duckdb/node-api';
import { createViewSql, quoteString } from '../catalog/catalog-sql';
import { arrowSchemaOf, recordBatchOf } from './duckdb-arrow';
import { InvalidQuery, QueryErrors, QueryTimedOut } from './query-errors';

export interface QueryLimits {
  maxRows: number;
  /** Most bytes of Arrow data returned. */
  maxBytes: number;
  timeoutMs: number;
  /** DuckDB's memory_limit, e.g. "512MB". */
  memoryLimit: string;
  threads: number;
}

export interface QueryResult {
  schema: arrow.Schema;
  batches: arrow.RecordBatch[];
  rows: number;
  truncated: boolean;
  elapsedMs: number;
}

const ACCEPTED: ReadonlySet<StatementType> = new Set([StatementType.SELECT, StatementType.EXPLAIN]);

/** `datasets`: committed Parquet files by dataset name (listDatasetFiles). */
export async function runQuery(
  datasets: ReadonlyMap<string, readonly string[]>,
  sql: string,
  limits: QueryLimits,
  cancelled: () => boolean = () => false,
): Promise<QueryResult> {
  const started = Date.now();
  const instance = await DuckDBInstance.create(':memory:', {
    threads: String(limits.threads),
    memory_limit: limits.memoryLimit,
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  let timedOut = false;
  let conn: DuckDBConnection | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    conn?.interrupt();
  }, limits.timeoutMs);
  const poll = setInterval(() => {
    if (cancelled()) conn?.interrupt();
  }, 200);
  try {
    conn = await instance.connect();
    await sandbox(conn, datasets);
    const result = await execute(conn, sql, limits);
    if (timedOut) throw QueryErrors.timedOut(limits.timeoutMs / 1000);
    return { ...result, elapsedMs: Date.now() - started };
  } catch (err) {
    if (timedOut) throw QueryErrors.timedOut(limits.timeoutMs / 1000);
    throw err;
  } finally {
    clearTimeout(timer);
    clearInterval(poll);
    conn?.closeSync();
    instance.closeSync();
  }
}

async function sandbox(conn: DuckDBConnection, datasets: ReadonlyMap<string, readonly string[]>): Promise<void> {
  const allowed: string[] = [];
  for (const [name, files] of datasets) {
    if (files.length === 0) continue;
    try {
      await conn.run(createViewSql(name, files, { temporary: true }));
    } catch (err) {
      // A purge removed listed files between the listing and now: the same query can run at once.
      if (/No files found/.test((err as Error).message)) throw QueryErrors.datasetsChanged(`files of ${name} were purged`);
      throw err;
    }
    allowed.push(...files);
  }
  await conn.run("SET temp_directory = ''"); // no spilling: nothing but the datasets is touched
  await conn.run(`SET allowed_directories = []`);
  await conn.run(`SET allowed_paths = [${allowed.map(quoteString).join(', ')}]`);
  await conn.run('SET enable_external_access = false');
  await conn.run('SET lock_configuration = true');
}

async function execute(conn: DuckDBConnection, sql: string, limits: QueryLimits): Promise<Omit<QueryResult, 'elapsedMs'>> {
  let prepared;
  try {
    const statements = await conn.extractStatements(sql).catch((err: Error) => {
      throw QueryErrors.invalid(err.message.replace(/^Failed to extract statements: /, '')); // DuckDB's own message is the useful part
    });
    if (statements.count !== 1) {
      throw QueryErrors.invalid(`send exactly one SQL statement; this request has ${statements.count}`);
    }
    prepared = await statements.prepare(0);
  } catch (err) {
    throw asInvalid(err);
  }
  const type = prepared.statementType;
  if (!ACCEPTED.has(type)) {
    throw QueryErrors.invalid(`only a read-only query is accepted (SELECT, WITH, SHOW, DESCRIBE, SUMMARIZE or EXPLAIN); this is a ${StatementType[type] ?? type} statement`);
  }
  let result;
  try {
    result = await prepared.stream();
  } catch (err) {
    throw asInvalid(err);
  }
  const schema = arrowSchemaOf(result.columnNames(), result.columnTypes());
  const batches: arrow.RecordBatch[] = [];
  let rows = 0;
  let bytes = 0;
  let truncated = false;
  for (;;) {
    let chunk;
    try {
      chunk = await result.fetchChunk();
    } catch (err) {
      throw asInvalid(err);
    }
    if (!chunk || chunk.rowCount === 0) break;
    const take = Math.min(chunk.rowCount, limits.maxRows - rows);
    const batch = recordBatchOf(schema, chunk.getColumns(), take);
    const size = batch.data.byteLength;
    if (bytes + size > limits.maxBytes) {
      truncated = true;
      break;
    }
    batches.push(batch);
    rows += take;
    bytes += size;
    if (take < chunk.rowCount || rows >= limits.maxRows) {
      truncated = take < chunk.rowCount || (await result.fetchChunk().then((c) => Boolean(c && c.rowCount > 0), () => false));
      break;
    }
  }
  return { schema, batches, rows, truncated };
}

function asInvalid(err: unknown): Error {
  if (err instanceof InvalidQuery || err instanceof QueryTimedOut) return err;
  return QueryErrors.invalid((err as Error)?.message ?? String(err));
}
