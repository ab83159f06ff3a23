/**
 * ListDatasets and Query: the committed outputs as named datasets, and
 * read-only SQL over them (query/query-engine.ts runs it; this file maps
 * requests, limits and errors).
 */
import * as arrow from 'apache-arrow';
import { status } from '@grpc/grpc-js';
import { invalidArgument, resourceExhausted, RpcError, unavailable } from '../../common/rpc-error';
import type { Dataset, ListDatasetsRequest, ListDatasetsResponse, QueryRequest, QueryResponse } from '../../gen/casparian/v1/sentinel';
import { requireName } from '../../common/validate';
import { listDatasetFiles, listDatasets, type DatasetSummary } from '../queue';
import { runQuery, type QueryLimits } from '../query/query-engine';
import { DatasetsChanged, InvalidQuery, QueryTimedOut } from '../query/query-errors';
import type { ClientApiDeps } from './context';

export const QUERY_DEFAULTS = {
  maxRows: 10_000,
  maxRowsCap: 1_000_000,
  maxBytes: 64 * 1024 * 1024,
  timeoutSeconds: 30,
  timeoutSecondsCap: 300,
  memoryLimit: '512MB',
  threads: 2,
  /** Queries running at once; more get RESOURCE_EXHAUSTED. */
  concurrent: 2,
};
const MAX_SQL_BYTES = 256 * 1024;
const CHUNK = 1024 * 1024;

/** Queries running now, per Sentinel. */
export interface QueryGate {
  running: number;
}

function datasetToPb(d: DatasetSummary): Dataset {
  return {
    name: d.name,
    jobs: d.jobs,
    rows: d.rows,
    sizeBytes: d.sizeBytes,
    schemas: d.schemas.map((s) => ({ columns: s.columns.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable })), jobs: s.jobs })),
    producers: d.producers.map((p) => ({ pluginName: p.pluginName, pluginVersion: p.pluginVersion, jobs: p.jobs })),
    lastCommittedAt: new Date(d.lastCommittedAt),
  };
}

export async function listDatasetsRpc(d: ClientApiDeps, req: ListDatasetsRequest): Promise<ListDatasetsResponse> {
  if (req.pluginName) requireName('plugin_name', req.pluginName);
  return { datasets: (await listDatasets(d.db, { pluginName: req.pluginName || undefined })).map(datasetToPb) };
}

function limitsOf(req: QueryRequest): QueryLimits {
  if (req.maxRows > QUERY_DEFAULTS.maxRowsCap) throw invalidArgument(`max_rows must be at most ${QUERY_DEFAULTS.maxRowsCap}`);
  if (req.timeoutSeconds > QUERY_DEFAULTS.timeoutSecondsCap) throw invalidArgument(`timeout_seconds must be at most ${QUERY_DEFAULTS.timeoutSecondsCap}`);
  return {
    maxRows: req.maxRows || QUERY_DEFAULTS.maxRows,
    maxBytes: QUERY_DEFAULTS.maxBytes,
    timeoutMs: (req.timeoutSeconds || QUERY_DEFAULTS.timeoutSeconds) * 1000,
    memoryLimit: QUERY_DEFAULTS.memoryLimit,
    threads: QUERY_DEFAULTS.threads,
  };
}

/** A DuckDB catalog error (an unknown table, say) gets the list of datasets that do exist. */
function withDatasets(message: string, names: string[]): string {
  if (!message.startsWith('Catalog Error')) return message;
  return names.length
    ? `${message}\nthe datasets: ${names.join(', ')}`
    : `${message}\nno dataset exists yet: views appear once a job commits an output`;
}

export async function queryRpc(d: ClientApiDeps, gate: QueryGate, req: QueryRequest, write: (m: QueryResponse) => Promise<void>, cancelled: () => boolean): Promise<void> {
  const sql = req.sql.trim();
  if (!sql) throw invalidArgument('sql is required');
  if (Buffer.byteLength(sql) > MAX_SQL_BYTES) throw invalidArgument(`sql must be at most ${MAX_SQL_BYTES} bytes`);
  const limits = limitsOf(req);
  if (gate.running >= QUERY_DEFAULTS.concurrent) throw resourceExhausted(`${gate.running} queries are running, the most this Sentinel runs at once; try again shortly`);
  gate.running++;
  let result;
  let datasets = new Map<string, string[]>(); // for an error message, if the listing succeeded
  try {
    datasets = await listDatasetFiles(d.db);
    result = await runQuery(datasets, sql, limits, cancelled);
  } catch (err) {
    if (err instanceof InvalidQuery) throw invalidArgument(withDatasets(err.message, [...datasets.keys()]));
    if (err instanceof QueryTimedOut) throw new RpcError(status.DEADLINE_EXCEEDED, err.message);
    if (err instanceof DatasetsChanged) throw unavailable(err.message);
    throw err;
  } finally {
    gate.running--;
  }
  const ipc = arrow.tableToIPC(new arrow.Table(result.schema, result.batches), 'stream');
  d.logger.info('query ran', { rows: result.rows, truncated: result.truncated, elapsedMs: result.elapsedMs, bytes: ipc.byteLength });
  for (let at = 0; at < ipc.byteLength || at === 0; at += CHUNK) {
    const last = at + CHUNK >= ipc.byteLength;
    const data = ipc.subarray(at, Math.min(ipc.byteLength, at + CHUNK));
    await write({ data: Buffer.from(data.buffer, data.byteOffset, data.byteLength), summary: last ? { rows: result.rows, truncated: result.truncated, elapsedMs: result.elapsedMs } : undefined });
  }
}
