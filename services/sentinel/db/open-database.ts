/**
 * Opens the Sentinel's SQLite database (WAL mode, synchronous=NORMAL, compiled
 * statements cached by SQL text) through kysely and applies migrations.
 * `:memory:` gives a private in-memory database for tests.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { migrate } from './migrations';
import { cachingStatements } from './statement-cache';
import type { Database } from './schema';

export type Db = Kysely<Database>;

export async function openDatabase(file: string): Promise<Db> {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingStatements(sqlite) }) });
  await migrate(db);
  return db;
}
