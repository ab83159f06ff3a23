import type { Db } from '../db/open-database';
import { LEASED_STATES } from '../db/schema';

/**
 * How many attempts of each named plugin hold a lease (dispatched or
 * running), every version together. One query over the leased rows (index
 * jobs_lease), for the concurrency caps; names with none are absent.
 */
export async function countLeasedByPlugin(db: Db, pluginNames: readonly string[]): Promise<Map<string, number>> {
  if (pluginNames.length === 0) return new Map();
  const rows = await db
    .selectFrom('jobs')
    .select((eb) => ['plugin_name', eb.fn.countAll<number>().as('n')])
    .where('state', 'in', LEASED_STATES)
    .where('plugin_name', 'in', pluginNames)
    .groupBy('plugin_name')
    .execute();
  return new Map(rows.map((r) => [r.plugin_name, Number(r.n)]));
}
