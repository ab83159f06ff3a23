/**
 * Conversions between domain rows and generated proto types. Only the rpc
 * layer imports services/gen.
 */
import { JobState, type Job, type OutputContract, type Plugin, type OutputInfo, type Timeouts } from '../../gen/casparian/v1/types';
import { jobErrorToPb } from '../../common/job-error-pb';
import type { JobStateName } from '../db/schema';
import { parseManifest, type PluginManifestData } from '../plugins/manifest';
import { quarantinePolicy, type PluginContracts } from '../plugins/contracts';
import { contractsOf, sinksOf, type PluginRow } from '../plugins/registry';

/** A delivery row as GetJob shows it. */
export interface DeliveryState {
  output: string;
  kind: string;
  target: string;
  state: string;
  error: string | null;
}
import { parseError, parseMetrics, type JobRow, type JobTimeouts, type OutputRow } from '../queue';

const STATE_TO_PB: Record<JobStateName, JobState> = {
  queued: JobState.JOB_STATE_QUEUED,
  dispatched: JobState.JOB_STATE_DISPATCHED,
  running: JobState.JOB_STATE_RUNNING,
  succeeded: JobState.JOB_STATE_SUCCEEDED,
  failed: JobState.JOB_STATE_FAILED,
  cancelled: JobState.JOB_STATE_CANCELLED,
  dead_letter: JobState.JOB_STATE_DEAD_LETTER,
};

export function stateToPb(s: JobStateName): JobState {
  return STATE_TO_PB[s];
}

export function stateFromPb(s: JobState): JobStateName | undefined {
  for (const [k, v] of Object.entries(STATE_TO_PB)) if (v === s) return k as JobStateName;
  return undefined;
}

export function outputToPb(o: OutputRow): OutputInfo {
  return { name: o.name, rows: o.rows, sizeBytes: o.size_bytes, columns: JSON.parse(o.columns_json) };
}

const date = (ms: number | null): Date | undefined => (ms === null ? undefined : new Date(ms));

export function jobToPb(row: JobRow, outputs: OutputRow[] = [], waitingReason = '', deliveries: readonly DeliveryState[] = []): Job {
  const err = parseError(row);
  const m = parseMetrics(row);
  return {
    id: row.id,
    pluginName: row.plugin_name,
    pluginVersion: row.plugin_version,
    inputPath: row.input_path,
    state: stateToPb(row.state),
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    workerId: row.worker_id ?? '',
    error: err ? jobErrorToPb(err) : undefined,
    outputs: outputs.map(outputToPb),
    idempotencyKey: row.idempotency_key ?? '',
    waitingReason: row.state === 'queued' ? waitingReason : '',
    metrics: m
      ? { rows: m.rows, durationMs: m.durationMs, envMs: m.envMs, envProvisioned: m.envProvisioned, arrowBytes: m.arrowBytes }
      : undefined,
    envHash: row.env_hash,
    batchId: row.batch_id ?? '',
    partial: row.state === 'succeeded' && (m?.quarantinedRows ?? 0) > 0,
    quarantinedRows: m?.quarantinedRows ?? 0,
    traceparent: row.traceparent ?? '',
    sinkDeliveries: deliveries.map((d) => ({ output: d.output, sink: `${d.kind}:${d.target}`, state: d.state, error: d.error ?? '' })),
    priority: row.priority,
    notBefore: date(row.not_before),
    createdAt: date(row.created_at),
    updatedAt: date(row.updated_at),
    startedAt: date(row.started_at),
    finishedAt: date(row.finished_at),
  };
}

export function timeoutsToPb(t: JobTimeouts): Timeouts {
  return {
    guestConnectMs: t.guestConnectMs,
    idleMs: t.idleMs,
    startToCloseMs: t.startToCloseMs,
    killGraceMs: t.killGraceMs,
    scheduleToStartMs: t.scheduleToStartMs ?? 0,
  };
}

export function pluginToPb(p: PluginRow): Plugin {
  const m: PluginManifestData = parseManifest(p);
  return {
    name: p.name,
    version: p.version,
    envHash: p.env_hash,
    artifactHash: p.artifact_hash,
    manifest: { description: m.description, envAllow: m.envAllow, timeouts: timeoutsToPb(m.timeouts), maxAttempts: m.maxAttempts, limits: { ...m.limits }, backoff: { ...m.backoff }, isolation: m.isolation, maxConcurrency: m.maxConcurrency },
    createdAt: new Date(p.created_at),
    sourceBytes: Buffer.byteLength(p.source, 'utf8'),
    paused: p.paused === 1,
    consecutiveFailures: p.consecutive_failures,
    pausedReason: p.paused ? (p.paused_reason ?? 'paused') : '',
    contracts: contractsToPb(contractsOf(p)),
    sinks: sinksOf(p),
    signingKeyId: p.signing_key_id ?? '',
  };
}

function contractsToPb(c: PluginContracts | undefined): OutputContract[] {
  if (!c) return [];
  const names = [...new Set([...Object.keys(c.outputs ?? {}), ...Object.keys(c.quarantine)])].sort();
  return names.map((output) => {
    const q = quarantinePolicy(c, output);
    return { output, columns: (c.outputs?.[output] ?? []).map((col) => ({ ...col })), maxQuarantineFraction: q.maxFraction, maxQuarantineRows: q.maxRows };
  });
}
