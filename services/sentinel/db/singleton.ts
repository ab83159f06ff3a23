/**
 * Work that must run on one replica at a time (retention, the sweep of
 * orphaned output dirs, sink delivery). On PostgreSQL it runs under a session
 * advisory lock, taken without waiting: a replica that does not get it skips
 * this round, and the holder's next round does the work. The lock lives on
 * one pinned connection, so it is released when the work ends or when the
 * replica dies (its connection closes). On SQLite (one Sentinel) the work
 * just runs.
 */
import { sql } from 'kysely';
import { storeKind } from './dialect';
import type { Db } from './open-database';

/** One advisory lock key per kind of singleton work (any distinct constants). */
export const SINGLETON_KEYS = {
  retention: 0x63660001,
  outputSweep: 0x63660002,
  sinks: 0x63660003,
} as const;

export type SingletonName = keyof typeof SINGLETON_KEYS;

/** Run `fn` if no other replica is running the work `name`; true when it ran. */
export async function runExclusive(db: Db, name: SingletonName, fn: () => Promise<void>): Promise<boolean> {
  if (storeKind(db) !== 'postgres') {
    await fn();
    return true;
  }
  const key = SINGLETON_KEYS[name];
  return db.connection().execute(async (conn) => {
    const got = await sql<{ ok: boolean }>`select pg_try_advisory_lock(${key}) as ok`.execute(conn);
    if (!got.rows[0]?.ok) return false;
    try {
      await fn();
    } finally {
      await sql`select pg_advisory_unlock(${key})`.execute(conn).catch(() => undefined);
    }
    return true;
  });
}
