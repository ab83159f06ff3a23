/**
 * Opens the Sentinel's store through kysely and applies migrations:
 *
 *   sqlite:PATH         (the default, `{dataDir}/sentinel.db`) WAL mode,
 *                       synchronous=NORMAL, compiled statements cached by SQL
 *                       text. `sqlite::memory:` (or `:memory:`) is a private
 *                       in-memory database for tests.
 *   postgres://…        (or postgresql://…) a pg connection pool; several
 *                       Sentinel replicas may share one database.
 *
 * A bare path is taken as `sqlite:PATH`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { migrate } from './migrations';
import { cachingStatements } from './statement-cache';
import type { Database } from './schema';
import type { StoreKind } from './dialect';
import { parseStoreTarget } from '../../common/store-target';

export type Db = Kysely<Database>;

export interface OpenOptions {
  /** PostgreSQL pool size (default 10). */
  poolSize?: number;
  /** Told about errors of idle pooled connections (a restarted server); they are not thrown. */
  onPoolError?: (err: Error) => void;
}

/** Open (and migrate) the store named by `target` (a `--db` value or a SQLite path). */
export async function openDatabase(target: string, o: OpenOptions = {}): Promise<Db> {
  const t = parseStoreTarget(target);
  const db = t.kind === 'postgres' ? openPostgres(t.url, o) : openSqlite(t.file);
  try {
    await migrate(db);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return db;
}

function openSqlite(file: string): Db {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingStatements(sqlite) }) });
}

/**
 * int8 (bigint: every time and id column on PostgreSQL, and count(*)) comes
 * back as a JavaScript number, as SQLite's integers do. Every value the queue
 * stores fits in 53 bits (milliseconds since the epoch, row counts, sizes).
 */
const INT8_OID = 20;
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID && format !== 'binary') return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
} as pg.CustomTypesConfig;

function openPostgres(url: string, o: OpenOptions): Db {
  const pool = new pg.Pool({ connectionString: url, max: o.poolSize ?? 10, types: pgTypes, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 30_000 });
  // A client whose server went away emits 'error': an idle one through the pool, one checked out (a transaction, or
  // the pinned connection of an advisory lock) on itself. Unhandled, either would end the process; the query that
  // was running fails on its own, and the pool replaces the client.
  pool.on('error', (err) => o.onPoolError?.(err));
  pool.on('connect', (client) => client.on('error', (err) => o.onPoolError?.(err)));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** The kind of store a `--db` value names. */
export function storeKindOf(target: string): StoreKind {
  return parseStoreTarget(target).kind;
}
