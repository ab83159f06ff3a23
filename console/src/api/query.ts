/** Query over SSE: collects the Arrow chunks and the summary, decodes the result. */
import { base64Bytes, concatBytes, decodeIpc, type Grid } from './arrow';
import { stream } from './sse';
import type { QuerySummary } from './types';

export interface QueryResult extends Grid {
  summary: QuerySummary;
}

export async function runQuery(sql: string, opts: { maxRows?: number; signal?: AbortSignal } = {}): Promise<QueryResult> {
  const parts: Uint8Array[] = [];
  let summary: QuerySummary = {};
  await stream(
    'Query',
    { sql, ...(opts.maxRows ? { maxRows: opts.maxRows } : {}) },
    (msg) => {
      if (msg.data) parts.push(base64Bytes(msg.data));
      if (msg.summary) summary = msg.summary;
    },
    { signal: opts.signal },
  );
  return { ...(await decodeIpc(concatBytes(parts))), summary };
}

/** A SQL identifier in double quotes (a dataset's view name). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A SQL string literal. */
export function quoteString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** The first rows a job wrote to one output (every dataset is a view with a _cf_job_id lineage column). */
export function previewSql(output: string, jobId: string, limit = 20): string {
  return `SELECT * FROM ${quoteIdent(output)} WHERE _cf_job_id = ${quoteString(jobId)} LIMIT ${limit}`;
}
