/**
 * SQL text for DuckDB views over committed outputs. Pure functions: the
 * catalog file (catalog-writer.ts) and the Query engine (query/query-engine.ts)
 * build their views with them.
 */
import * as path from 'node:path';

/** Output names are `[a-z][a-z0-9_]*`; anything else never becomes a view name. */
const DATASET_NAME_RE = /^[a-z][a-z0-9_]*$/;

export function isDatasetName(name: string): boolean {
  return DATASET_NAME_RE.test(name);
}

/** A double-quoted SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A single-quoted SQL string literal. */
export function quoteString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/**
 * The glob of every committed file of a dataset under `outputsRoot`
 * (`{outputsRoot}/{jobId}/attempt-{n}/{name}.parquet`). Staging lives in a
 * sibling directory (`{dataDir}/staging`), so the glob never sees an attempt
 * being received; failed attempts leave no directory, and purges remove theirs.
 */
export function datasetGlob(outputsRoot: string, name: string): string {
  return path.join(outputsRoot, '*', 'attempt-*', `${name}.parquet`);
}

/** Glob characters DuckDB would expand in a data directory's own path. */
export function hasGlobCharacters(p: string): boolean {
  return /[*?[\]{}]/.test(p);
}

/**
 * `CREATE OR REPLACE VIEW name AS SELECT * FROM read_parquet(files…)`: the
 * union by column name of `files` (one glob, or a list of paths); columns a
 * file lacks read as null. hive_partitioning is off so that no path segment
 * (`attempt-1`) turns into a column.
 */
export function createViewSql(name: string, files: string | readonly string[], opts: { temporary?: boolean } = {}): string {
  if (!isDatasetName(name)) throw new TypeError(`${JSON.stringify(name)} is not an output name`);
  const source = typeof files === 'string' ? quoteString(files) : `[${files.map(quoteString).join(', ')}]`;
  return `CREATE OR REPLACE ${opts.temporary ? 'TEMPORARY ' : ''}VIEW ${quoteIdent(name)} AS SELECT * FROM read_parquet(${source}, union_by_name = true, hive_partitioning = false)`;
}
