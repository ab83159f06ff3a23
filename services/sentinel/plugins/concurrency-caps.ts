/**
 * Concurrency caps as published: a plugin's cap is the max_concurrency of
 * the manifest of its newest published version (highest seq), and it covers
 * the jobs of every version of that name.
 */
import type { Db } from '../db/open-database';
import { parseManifest } from './manifest';

/** Plugin name → cap, for the plugins whose newest version sets one. Read at each scheduler tick and after a publish. */
export async function listConcurrencyCaps(db: Db): Promise<Map<string, number>> {
  const newest = await db
    .selectFrom('plugins')
    .select(['name', 'manifest_json'])
    .where('seq', 'in', (eb) => eb.selectFrom('plugins').select((e) => e.fn.max('seq').as('seq')).groupBy('name'))
    .execute();
  const caps = new Map<string, number>();
  for (const p of newest) {
    const cap = parseManifest(p).maxConcurrency;
    if (cap > 0) caps.set(p.name, cap);
  }
  return caps;
}
