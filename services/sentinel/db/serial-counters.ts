/**
 * The counters behind serial keys (plugins.seq, jobs.seq, job_logs.id), read
 * and set by `casparian db copy`. SQLite's AUTOINCREMENT keeps the largest
 * key it ever issued in `sqlite_sequence`, so the key of a deleted (purged)
 * row is never issued again; a PostgreSQL identity column draws from a
 * sequence, which knows nothing of keys inserted explicitly, as a copy
 * inserts them. A copy therefore sets the target's counter itself.
 */
import { sql, type Kysely } from 'kysely';
import { storeKind } from './dialect';

/**
 * The key the next insert into `table` would get in `db`: above the largest
 * key ever issued there and above `lastKey` (the largest key copied).
 */
export async function nextSerialValue(db: Kysely<any>, table: string, column: string, lastKey: unknown): Promise<number> {
  let issued: unknown;
  if (storeKind(db) === 'postgres') {
    const r = await sql<{ v: unknown }>`select pg_sequence_last_value(pg_get_serial_sequence(${table}, ${column})::regclass) as v`.execute(db);
    issued = r.rows[0]?.v; // null while the sequence has never been used
  } else {
    const r = await sql<{ v: unknown }>`select seq as v from sqlite_sequence where name = ${table}`.execute(db);
    issued = r.rows[0]?.v; // no row while the table has never had one
  }
  return Math.max(Number(issued ?? 0), Number(lastKey ?? 0)) + 1;
}

/** Make `next` the key the next insert into `table` gets (without an explicit key). */
export async function setNextSerialValue(db: Kysely<any>, table: string, column: string, next: number): Promise<void> {
  if (storeKind(db) === 'postgres') {
    await sql`select setval(pg_get_serial_sequence(${table}, ${column}), ${next}, false)`.execute(db);
    return;
  }
  const r = await sql`update sqlite_sequence set seq = ${next - 1} where name = ${table}`.execute(db);
  if (Number(r.numAffectedRows ?? 0) === 0) await sql`insert into sqlite_sequence (name, seq) values (${table}, ${next - 1})`.execute(db);
}
