import type { Db } from '../db/open-database';

/** Final states a throughput bucket counts. */
export const THROUGHPUT_STATES = ['succeeded', 'failed', 'cancelled', 'dead_letter'] as const;
export type ThroughputState = (typeof THROUGHPUT_STATES)[number];

export interface ThroughputMinute {
  /** Start of the minute, ms since the epoch. */
  start: number;
  counts: Record<ThroughputState, number>;
}

const MINUTE = 60_000;

/**
 * Jobs that reached a final state per minute over the `minutes` up to `now`
 * (the current minute last), from one grouped query over the finish-time
 * index. Every minute of the window has a bucket, empty ones too, so a chart
 * needs no gap filling.
 */
export async function throughput(db: Db, o: { minutes: number; now: number; pluginName?: string }): Promise<ThroughputMinute[]> {
  const last = Math.floor(o.now / MINUTE) * MINUTE;
  const first = last - (o.minutes - 1) * MINUTE;
  let q = db
    .selectFrom('jobs')
    .select((eb) => ['state', 'finished_at', eb.fn.countAll<number>().as('n')])
    .where('finished_at', '>=', first)
    .where('state', 'in', [...THROUGHPUT_STATES]);
  if (o.pluginName) q = q.where('plugin_name', '=', o.pluginName);
  // Grouped by the exact finish time, folded into minutes here: the same SQL on SQLite and PostgreSQL.
  const rows = await q.groupBy(['state', 'finished_at']).execute();
  const buckets: ThroughputMinute[] = [];
  for (let t = first; t <= last; t += MINUTE) buckets.push({ start: t, counts: { succeeded: 0, failed: 0, cancelled: 0, dead_letter: 0 } });
  for (const r of rows) {
    const i = Math.floor((Number(r.finished_at) - first) / MINUTE);
    if (i >= 0 && i < buckets.length) buckets[i].counts[r.state as ThroughputState] += Number(r.n);
  }
  return buckets;
}
