/**
 * Which workers every replica holds, in the shared store (worker_sessions),
 * so that ListWorkers on any replica lists them all. Each replica writes its
 * own rows every REFRESH_MS (one upsert per worker, in one transaction) and
 * deletes the rows of workers it no longer holds; a row older than STALE_MS
 * belongs to a replica that died, and is not listed (the next writer of that
 * worker id replaces it). With one Sentinel nothing is written.
 */
import type { Db } from '../db/open-database';
import type { WorkerInfo } from '../../gen/casparian/v1/types';

export const REFRESH_MS = 2_000;
export const STALE_MS = 10_000;

/** What is stored of a WorkerInfo: its JSON, times as epoch milliseconds. */
type StoredInfo = Omit<WorkerInfo, 'connectedAt' | 'lastHeartbeatAt'> & { connectedAt?: number; lastHeartbeatAt?: number };

/** Replace this replica's rows with `workers`. */
export async function writeSessions(db: Db, replicaId: string, workers: readonly WorkerInfo[], now: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const ids = workers.map((w) => w.workerId);
    let gone = trx.deleteFrom('worker_sessions').where('replica_id', '=', replicaId);
    if (ids.length) gone = gone.where('worker_id', 'not in', ids);
    await gone.execute();
    for (const w of workers) {
      const info: StoredInfo = { ...w, connectedAt: w.connectedAt?.getTime(), lastHeartbeatAt: w.lastHeartbeatAt?.getTime() };
      const row = { worker_id: w.workerId, replica_id: replicaId, info_json: JSON.stringify(info), updated_at: now };
      await trx
        .insertInto('worker_sessions')
        .values(row)
        .onConflict((oc) => oc.column('worker_id').doUpdateSet({ replica_id: row.replica_id, info_json: row.info_json, updated_at: row.updated_at }))
        .execute();
    }
  });
}

/** Workers other replicas wrote lately. */
export async function readOtherSessions(db: Db, replicaId: string, now: number): Promise<WorkerInfo[]> {
  const rows = await db
    .selectFrom('worker_sessions')
    .select(['info_json'])
    .where('replica_id', '!=', replicaId)
    .where('updated_at', '>=', now - STALE_MS)
    .orderBy('worker_id')
    .execute();
  return rows.map((r) => {
    const info = JSON.parse(r.info_json) as StoredInfo;
    return {
      ...info,
      connectedAt: info.connectedAt === undefined ? undefined : new Date(info.connectedAt),
      lastHeartbeatAt: info.lastHeartbeatAt === undefined ? undefined : new Date(info.lastHeartbeatAt),
    };
  });
}

/** A replica stops: its workers will reconnect elsewhere. */
export async function dropSessions(db: Db, replicaId: string): Promise<void> {
  await db.deleteFrom('worker_sessions').where('replica_id', '=', replicaId).execute();
}
