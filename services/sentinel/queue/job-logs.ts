import type { Db } from '../db/open-database';
import type { LogRow } from './types';

export interface NewLog {
  jobId: string;
  attempt: number;
  level: string;
  source: string;
  message: string;
  time: number;
}

/** Longest log line kept; longer lines are cut with a marker. */
export const MAX_LOG_LINE = 16 * 1024;

/**
 * A plugin may print any character; PostgreSQL text cannot hold NUL, so it is
 * stored as U+FFFD on both stores (one rule, whatever the store).
 */
export function storableText(s: string): string {
  return s.includes('\0') ? s.replaceAll('\0', '\uFFFD') : s;
}

export async function appendLogs(db: Db, logs: NewLog[]): Promise<void> {
  if (logs.length === 0) return;
  await db
    .insertInto('job_logs')
    .values(
      logs.map((l) => ({
        job_id: l.jobId,
        attempt: l.attempt,
        level: l.level,
        source: l.source,
        message: storableText(l.message.length > MAX_LOG_LINE ? l.message.slice(0, MAX_LOG_LINE) + ' …[cut]' : l.message),
        time: l.time,
      })),
    )
    .execute();
}

export async function listLogs(db: Db, jobId: string, limit = 10_000): Promise<LogRow[]> {
  return db.selectFrom('job_logs').selectAll().where('job_id', '=', jobId).orderBy('id').limit(limit).execute();
}
