import type { Db } from '../db/open-database';

/** One column of a committed output, as stored in outputs.columns_json. */
export interface DatasetColumn {
  name: string;
  type: string;
  nullable: boolean;
}

/**
 * A dataset: every committed output of one name, across jobs, plugins and
 * versions. Quarantine outputs (`X_quarantine`) are datasets of their own.
 */
export interface DatasetSummary {
  name: string;
  jobs: number;
  rows: number;
  sizeBytes: number;
  /** Distinct column lists, most jobs first. */
  schemas: { columns: DatasetColumn[]; jobs: number }[];
  /** Plugin versions that committed it, by name then version. */
  producers: { pluginName: string; pluginVersion: string; jobs: number }[];
  lastCommittedAt: number;
}

/**
 * The datasets, by name, from one grouped query over `outputs` joined to
 * `jobs` (for plugin names): one row per (output name, schema, plugin
 * version), folded here. Never reads a Parquet file. A job commits at most one
 * attempt, so its outputs have one row per name and a row count is a job count.
 */
export async function listDatasets(db: Db, filter: { pluginName?: string } = {}): Promise<DatasetSummary[]> {
  let q = db
    .selectFrom('outputs as o')
    .innerJoin('jobs as j', 'j.id', 'o.job_id')
    .select((eb) => [
      'o.name as name',
      'o.columns_json as columns_json',
      'j.plugin_name as plugin_name',
      'j.plugin_version as plugin_version',
      eb.fn.countAll<number>().as('jobs'),
      eb.fn.sum<number>('o.rows').as('rows'),
      eb.fn.sum<number>('o.size_bytes').as('size_bytes'),
      eb.fn.max<number>('o.created_at').as('last_at'),
    ])
    .groupBy(['o.name', 'o.columns_json', 'j.plugin_name', 'j.plugin_version']);
  if (filter.pluginName) q = q.where('j.plugin_name', '=', filter.pluginName);
  const byName = new Map<string, DatasetSummary & { schemaJobs: Map<string, number>; producerJobs: Map<string, number> }>();
  for (const r of await q.execute()) {
    let d = byName.get(r.name);
    if (!d) {
      d = { name: r.name, jobs: 0, rows: 0, sizeBytes: 0, schemas: [], producers: [], lastCommittedAt: 0, schemaJobs: new Map(), producerJobs: new Map() };
      byName.set(r.name, d);
    }
    const jobs = Number(r.jobs);
    d.jobs += jobs;
    d.rows += Number(r.rows);
    d.sizeBytes += Number(r.size_bytes);
    d.lastCommittedAt = Math.max(d.lastCommittedAt, Number(r.last_at));
    d.schemaJobs.set(r.columns_json, (d.schemaJobs.get(r.columns_json) ?? 0) + jobs);
    const producer = JSON.stringify([r.plugin_name, r.plugin_version]);
    d.producerJobs.set(producer, (d.producerJobs.get(producer) ?? 0) + jobs);
  }
  return [...byName.values()]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map(({ schemaJobs, producerJobs, ...d }) => ({
      ...d,
      schemas: [...schemaJobs]
        .map(([json, jobs]) => ({ columns: JSON.parse(json) as DatasetColumn[], jobs }))
        .sort((a, b) => b.jobs - a.jobs),
      producers: [...producerJobs]
        .map(([key, jobs]) => {
          const [pluginName, pluginVersion] = JSON.parse(key) as [string, string];
          return { pluginName, pluginVersion, jobs };
        })
        .sort((a, b) => a.pluginName.localeCompare(b.pluginName) || a.pluginVersion.localeCompare(b.pluginVersion)),
    }));
}

/** The committed Parquet files of every dataset, by output name (what Query's views read). */
export async function listDatasetFiles(db: Db): Promise<Map<string, string[]>> {
  const files = new Map<string, string[]>();
  for (const r of await db.selectFrom('outputs').select(['name', 'parquet_path']).orderBy('name').orderBy('created_at').execute()) {
    const list = files.get(r.name) ?? [];
    list.push(r.parquet_path);
    files.set(r.name, list);
  }
  return files;
}

/** The names of the datasets (what the catalog file has a view for). */
export async function listDatasetNames(db: Db): Promise<string[]> {
  return (await db.selectFrom('outputs').select('name').distinct().orderBy('name').execute()).map((r) => r.name);
}
