/**
 * What differs between the two stores, in one place. The queue is written in
 * kysely's portable subset; the few things that are not portable (row locks,
 * column types, error codes) are asked of this module.
 *
 *  - sqlite: one process, one connection, every transaction serialised by
 *    kysely's connection mutex. Row locks are neither needed nor supported.
 *  - postgres: a pool; transactions run concurrently, within one Sentinel and
 *    across replicas, so a read-then-write takes its row lock (FOR UPDATE) and
 *    a claim skips rows another replica is claiming (SKIP LOCKED).
 */
import { PostgresAdapter, type Kysely, type SelectQueryBuilder } from 'kysely';

export type StoreKind = 'sqlite' | 'postgres';

/** Which store a database (or a transaction of one) runs on. */
export function storeKind(db: Kysely<any>): StoreKind {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/** `q … FOR UPDATE` on PostgreSQL; `q` unchanged on SQLite (whose transactions are serialised already). */
export function lockRows<DB, TB extends keyof DB, O>(db: Kysely<any>, q: SelectQueryBuilder<DB, TB, O>): SelectQueryBuilder<DB, TB, O> {
  return storeKind(db) === 'postgres' ? q.forUpdate() : q;
}

/** `q … FOR UPDATE SKIP LOCKED` on PostgreSQL: rows another transaction holds are left out instead of waited for. */
export function lockRowsSkipLocked<DB, TB extends keyof DB, O>(db: Kysely<any>, q: SelectQueryBuilder<DB, TB, O>): SelectQueryBuilder<DB, TB, O> {
  return storeKind(db) === 'postgres' ? q.forUpdate().skipLocked() : q;
}

/** A unique or primary-key constraint refused a write (two writers raced to insert the same key). */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown } | undefined;
  // PostgreSQL: SQLSTATE 23505; better-sqlite3: SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY.
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * Run `fn` (a transaction that reads a key, then inserts it when absent)
 * again once if a concurrent writer inserted the same key first: the second
 * run reads what the winner wrote. On SQLite transactions are serialised and
 * the race cannot happen; on PostgreSQL two replicas (or two pooled
 * connections) can both read "absent".
 */
export async function againOnUniqueRace<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    return fn();
  }
}
