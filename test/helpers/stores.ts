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
import { testPg } from './pg-server';
import { openDatabase, type Db } from '../../services/sentinel/db/open-database';

export type StoreName = 'sqlite' | 'postgres';
export const STORES: readonly StoreName[] = ['sqlite', 'postgres'];

/** A fresh, empty PostgreSQL database on the run's test server (pg-server.ts); its URL. */
export async function freshPgDatabase(prefix = 'cf'): Promise<string> {
  return (await testPg()).createDatabase(prefix);
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
