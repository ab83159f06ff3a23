/**
 * The queue's stores, for suites that run the same assertions on each:
 *
 *     for (const store of STORES) describe(`unit: queue [${store}]`, () => {
 *       beforeEach(async () => (db = await openTestDb(store)));
 *
 * SQLite gets a private in-memory database; PostgreSQL a fresh database on
 * the run's test server (pg-server.ts), migrated from empty.
 *
 * `CASPARIAN_TEST_STORE` (sqlite or postgres) picks the store of the test
 * clusters' Sentinels (testStoreTarget); default sqlite.
 */
import pg from 'pg';
import { openDatabase, type Db } from '../../services/sentinel/db/open-database';

export type StoreName = 'sqlite' | 'postgres';
export const STORES: readonly StoreName[] = ['sqlite', 'postgres'];

let counter = 0;

/** A fresh, empty PostgreSQL database; its URL. */
export async function freshPgDatabase(prefix = 'cf'): Promise<string> {
  const base = process.env.CASPARIAN_TEST_PG_URL;
  if (!base) throw new Error('no PostgreSQL for the tests: set CASPARIAN_TEST_PG_URL');
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${++counter}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

/** The `--db` value of a new, empty store of kind `store`. */
export async function freshStoreTarget(store: StoreName, sqliteFile = ':memory:'): Promise<string> {
  return store === 'postgres' ? freshPgDatabase() : `sqlite:${sqliteFile}`;
}

/** A new, empty, migrated store of kind `store`. */
export async function openTestDb(store: StoreName): Promise<Db> {
  return openDatabase(await freshStoreTarget(store));
}

/** The store the test clusters' Sentinels use (CASPARIAN_TEST_STORE). */
export function clusterStore(): StoreName {
  const v = process.env.CASPARIAN_TEST_STORE ?? 'sqlite';
  if (v !== 'sqlite' && v !== 'postgres') throw new Error(`CASPARIAN_TEST_STORE must be sqlite or postgres, not ${v}`);
  return v;
}
