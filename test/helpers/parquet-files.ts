/** Small real Parquet files for tests, written by DuckDB. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

/** Write each `SELECT …` to its file (directories created). */
export async function writeParquet(files: Record<string, string>): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:');
  const c = await instance.connect();
  try {
    for (const [file, select] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      await c.run(`COPY (${select}) TO '${file.replace(/'/g, "''")}' (FORMAT parquet)`);
    }
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

/** Rows of `sql` from a DuckDB file opened read-only (bigints as strings). */
export async function readOnlyQuery(file: string, sql: string): Promise<unknown[][]> {
  const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const c = await instance.connect();
  try {
    const r = await c.runAndReadAll(sql);
    return r.getRowsJS().map((row) => row.map((v) => (typeof v === 'bigint' ? String(v) : v)));
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}
