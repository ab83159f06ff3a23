/**
 * Client RPCs for many jobs at once: SubmitJobs (one call, one transaction,
 * one batch id) and WatchJobs (one stream of state changes for a batch, a
 * plugin or every job). Plain async functions; ClientApi delegates to them.
 */
import * as crypto from 'node:crypto';
import { alreadyExists, invalidArgument, notFound, RpcError, unavailable } from '../../common/rpc-error';
import { boundedInt, optionalVersion, requireAbsolutePath, requireName } from '../../common/validate';
import type { JobCounts, SubmitJobsRequest, SubmitJobsResponse, WatchJobsRequest, WatchJobsResponse } from '../../gen/casparian/v1/sentinel';
import type { Job } from '../../gen/casparian/v1/types';
import { FINAL_STATES, type JobStateName } from '../db/schema';
import { jobSettings, parseManifest } from '../plugins/manifest';
import { findPlugin } from '../plugins/registry';
import { batchFingerprint, batchStates, getBatch, getJob, IdempotencyKeyConflict, type JobRow } from '../queue';
import type { ClientApiDeps } from './context';
import { checkInputRoots } from './input-roots';
import { traceFields } from '../../common/trace-context';
import { jobMaker, queueControls } from './queue-controls';

/** Most input paths one SubmitJobs call may carry. */
export const MAX_BATCH_JOBS = 10_000;

/** `traceparent`: the call's validated W3C trace context; every job of the batch keeps it. */
export async function submitJobsRpc(d: ClientApiDeps, req: SubmitJobsRequest, traceparent?: string): Promise<SubmitJobsResponse> {
  if (!d.accepting()) throw unavailable('the Sentinel is shutting down and accepts no new jobs');
  const pluginName = requireName('plugin_name', req.pluginName);
  const version = optionalVersion('plugin_version', req.pluginVersion);
  if (req.inputPaths.length === 0) throw invalidArgument('input_paths is empty: give at least one input file');
  if (req.inputPaths.length > MAX_BATCH_JOBS) {
    throw invalidArgument(`input_paths has ${req.inputPaths.length} entries; at most ${MAX_BATCH_JOBS} per call (split the batch)`);
  }
  const inputPaths = req.inputPaths.map((p, i) => {
    const field = `input_paths[${i}]`;
    const normal = requireAbsolutePath(field, p);
    try {
      checkInputRoots(normal, d.cfg.inputRoots);
    } catch (e) {
      throw e instanceof RpcError ? new RpcError(e.code, `${field}: ${e.message}`) : e;
    }
    return normal;
  });
  if (req.idempotencyKey.length > 256) throw invalidArgument('idempotency_key is longer than 256 characters');
  const maxAttempts = boundedInt('max_attempts', req.maxAttempts, 100);
  const plugin = await findPlugin(d.db, pluginName, version || undefined);
  if (!plugin) throw notFound(version ? `plugin ${pluginName} version ${version} is not published` : `plugin ${pluginName} is not published`);
  const settings = jobSettings(req, parseManifest(plugin), { maxAttempts: d.cfg.defaultMaxAttempts, timeouts: d.cfg.timeouts });
  const controls = queueControls(req, d.clock.now());
  const jobs = inputPaths.map(jobMaker(plugin, { traceparent, ...settings, ...controls }));
  const batch = {
    id: crypto.randomUUID(),
    pluginName,
    pluginVersion: plugin.version,
    idempotencyKey: req.idempotencyKey || undefined,
    submitFingerprint: batchFingerprint({ pluginName, pluginVersion: version, inputPaths, maxAttempts, timeouts: req.timeouts, backoff: req.backoff, priority: controls.priority }),
  };
  const res = await d.lifecycle.batchSubmitted({ batch, jobs }).catch((e: unknown) => {
    throw e instanceof IdempotencyKeyConflict ? alreadyExists(e.message) : e;
  });
  if (res.created) d.logger.info('batch submitted', { batchId: res.batchId, plugin: `${pluginName}@${plugin.version}`, jobs: jobs.length, ...traceFields(traceparent) });
  return { batchId: res.batchId, jobIds: res.jobIds, created: res.created, pluginVersion: plugin.version };
}

/** Counts of a batch by state, kept up to date as its jobs move. */
class BatchCounts {
  private readonly n: Record<JobStateName, number> = { queued: 0, dispatched: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0, dead_letter: 0 };
  private final = 0;
  constructor(private readonly states: Map<string, JobStateName>) {
    for (const s of states.values()) this.add(s, 1);
  }
  has(id: string): boolean {
    return this.states.has(id);
  }
  state(id: string): JobStateName | undefined {
    return this.states.get(id);
  }
  set(id: string, state: JobStateName): void {
    const old = this.states.get(id);
    if (old === undefined || old === state) return;
    this.add(old, -1);
    this.add(state, 1);
    this.states.set(id, state);
  }
  get done(): boolean {
    return this.final === this.states.size;
  }
  toPb(): JobCounts {
    const n = this.n;
    return { total: this.states.size, queued: n.queued, running: n.dispatched + n.running, succeeded: n.succeeded, failed: n.failed, cancelled: n.cancelled, deadLetter: n.dead_letter };
  }
  private add(state: JobStateName, k: number): void {
    this.n[state] += k;
    if (FINAL_STATES.includes(state)) this.final += k;
  }
}

/**
 * WatchJobs. Changed job ids are collected in a set while a write is under
 * way, so a slow reader gets each job's latest state once instead of an
 * unbounded queue of events. A quiet second re-reads the batch, so a missed
 * event cannot stall the stream.
 */
export async function watchJobsRpc(
  d: ClientApiDeps,
  req: WatchJobsRequest,
  write: (m: WatchJobsResponse) => Promise<void>,
  isCancelled: () => boolean,
  jobPb: (row: JobRow) => Promise<Job>,
): Promise<void> {
  if (req.batchId && req.pluginName) throw invalidArgument('give batch_id or plugin_name, not both');
  if (req.batchId) requireName('batch_id', req.batchId);
  if (req.pluginName) requireName('plugin_name', req.pluginName);
  const dirty = new Set<string>();
  let batch: BatchCounts | undefined;
  let wake: (() => void) | undefined;
  // Subscribe before the snapshot, so no change can fall in between.
  const unsubscribe = d.events.subscribe('*', (e) => {
    if (e.kind !== 'state' || (batch && !batch.has(e.jobId))) return;
    dirty.add(e.jobId);
    wake?.();
  });
  try {
    if (req.batchId) {
      if (!(await getBatch(d.db, req.batchId))) throw notFound(`batch ${req.batchId} does not exist`);
      batch = new BatchCounts(new Map((await batchStates(d.db, req.batchId)).map((r) => [r.id, r.state])));
      for (const id of dirty) if (!batch.has(id)) dirty.delete(id);
      await write({ counts: batch.toPb() });
    }
    while (!isCancelled() && !batch?.done) {
      if (dirty.size === 0) {
        const quiet = await new Promise<boolean>((resolve) => {
          wake = () => resolve(false);
          setTimeout(() => resolve(true), 1_000).unref();
        });
        wake = undefined;
        if (quiet && batch && req.batchId) {
          for (const r of await batchStates(d.db, req.batchId)) if (r.state !== batch.state(r.id)) dirty.add(r.id);
        }
        continue;
      }
      const ids = [...dirty];
      dirty.clear();
      for (const id of ids) {
        const row = await getJob(d.db, id);
        if (!row || (req.pluginName && row.plugin_name !== req.pluginName)) continue;
        batch?.set(id, row.state);
        await write({ job: await jobPb(row), counts: batch?.toPb() });
        if (isCancelled()) return;
      }
    }
  } finally {
    unsubscribe();
  }
}

