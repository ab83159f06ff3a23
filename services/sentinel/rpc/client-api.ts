/**
 * The client-facing RPCs of the Sentinel as plain async functions over
 * generated request/response types. sentinel-service.ts wraps them for grpc-js.
 */
import { alreadyExists, failedPrecondition, invalidArgument, notFound, resourceExhausted, unavailable } from '../../common/rpc-error';
import {
  JobEventKind,
  type CancelJobRequest,
  type CancelJobResponse,
  type FetchOutputRequest,
  type FetchOutputResponse,
  type GetJobRequest,
  type GetJobResponse,
  type ListJobsRequest,
  type ListJobsResponse,
  type ListPluginsRequest,
  type ListPluginsResponse,
  type ListWorkersResponse,
  type PausePluginRequest,
  type PausePluginResponse,
  type PublishPluginRequest,
  type PublishPluginResponse,
  type ResumePluginRequest,
  type ResumePluginResponse,
  type RetryJobRequest,
  type RetryJobResponse,
  type SubmitJobRequest,
  type SubmitJobResponse,
  type SubmitJobsRequest,
  type SubmitJobsResponse,
  type SubmitScanRequest,
  type SubmitScanResponse,
  type WatchJobRequest,
  type WatchJobResponse,
  type WatchJobsRequest,
  type WatchJobsResponse,
  PurgeJobsRequest,
  PurgeJobsResponse,
  type ListDatasetsRequest,
  type GetThroughputRequest,
  type GetThroughputResponse,
  type ListDatasetsResponse,
  type QueryRequest,
  type QueryResponse,
} from '../../gen/casparian/v1/sentinel';
import { FINAL_STATES } from '../db/schema';
import type { JobEvent } from '../job-events';
import { boundedInt, MAX_LOCKFILE_BYTES, MAX_SOURCE_BYTES, optionalVersion, requireAbsolutePath, requireName, requireText } from '../../common/validate';
import { ContractError, extractContracts, type PluginContracts } from '../plugins/contracts';
import { checkRoutes, SinkRouteError, type SinkKind, type SinkMode, type SinkRoute } from '../sinks/routes';
import { compileManifest, jobSettings, parseManifest } from '../plugins/manifest';
import { findPlugin, listPlugins, publishPlugin } from '../plugins/registry';
import { publishedSignature } from '../plugins/published-signature';
import { getOutputsOf, getJob, getOutputs, listJobs, listLogs, IdempotencyKeyConflict, submitFingerprint, type JobRow } from '../queue';
import type { ClientApiDeps } from './context';
import type { WorkerInfo } from '../../gen/casparian/v1/types';
import { jobToPb, outputToPb, pluginToPb, stateFromPb } from './mappers';
import { checkInputRoots } from './input-roots';
import { jobMaker, queueControls } from './queue-controls';
import { submitJobsRpc, watchJobsRpc } from './batch-api';
import { submitScanRpc } from './scan-api';
import { pausePluginRpc, resumePluginRpc, retryJobRpc } from './recovery-api';
import { purgeJobsRpc } from './retention-api';
import { listDatasetsRpc, queryRpc, type QueryGate } from './dataset-api';
import { getThroughputRpc } from './throughput-api';
import { traceFields } from '../../common/trace-context';

export class ClientApi {
  private readonly queries: QueryGate = { running: 0 };

  constructor(private readonly d: ClientApiDeps) {}

  listDatasets(req: ListDatasetsRequest): Promise<ListDatasetsResponse> {
    return listDatasetsRpc(this.d, req);
  }

  getThroughput(req: GetThroughputRequest): Promise<GetThroughputResponse> {
    return getThroughputRpc(this.d, req);
  }

  query(req: QueryRequest, write: (m: QueryResponse) => Promise<void>, cancelled: () => boolean): Promise<void> {
    return queryRpc(this.d, this.queries, req, write, cancelled);
  }

  async publishPlugin(req: PublishPluginRequest): Promise<PublishPluginResponse> {
    if (!this.d.accepting()) throw unavailable('the Sentinel is shutting down');
    const name = requireName('name', req.name);
    const version = optionalVersion('version', req.version) || '0.0.0';
    const source = requireText('source', req.source, MAX_SOURCE_BYTES);
    const lockfile = requireText('lockfile', req.lockfile, MAX_LOCKFILE_BYTES);
    const manifest = compileManifest(req.manifest);
    const contracts = await readContracts(source, this.d.cfg.commitWriter.basePython);
    const signed = publishedSignature(req);
    const sinks = checkSinks(req.sinks ?? [], this.d.cfg.sinkRoots);
    const res = await publishPlugin(this.d.db, { name, version, source, lockfile, manifest, contracts, signed, sinks }, this.d.clock.now());
    if (res.kind === 'conflict') {
      throw alreadyExists(`plugin ${name} version ${version} is already published with different content, signature or sinks; publish a new version`);
    }
    this.d.logger.info('plugin published', { plugin: name, version, created: res.kind === 'created', envHash: res.plugin.env_hash, signingKeyId: res.plugin.signing_key_id ?? '' });
    // The newest version's manifest sets the plugin's concurrency cap.
    if (res.kind === 'created') {
      await this.d.scheduler.refreshCaps();
      this.d.bus?.publish({ kind: 'plugins' }); // the other replicas re-read caps too
    }
    return { plugin: pluginToPb(res.plugin), created: res.kind === 'created' };
  }

  async listPlugins(req: ListPluginsRequest): Promise<ListPluginsResponse> {
    if (req.name) requireName('name', req.name);
    return { plugins: (await listPlugins(this.d.db, req.name || undefined)).map(pluginToPb) };
  }

  /** `traceparent`: the call's validated W3C trace context (trace-metadata.ts), kept on the job. */
  async submitJob(req: SubmitJobRequest, traceparent?: string): Promise<SubmitJobResponse> {
    if (!this.d.accepting()) throw unavailable('the Sentinel is shutting down and accepts no new jobs');
    const pluginName = requireName('plugin_name', req.pluginName);
    const version = optionalVersion('plugin_version', req.pluginVersion);
    const inputPath = requireAbsolutePath('input_path', req.inputPath);
    checkInputRoots(inputPath, this.d.cfg.inputRoots);
    if (req.idempotencyKey.length > 256) throw invalidArgument('idempotency_key is longer than 256 characters');
    const maxAttempts = boundedInt('max_attempts', req.maxAttempts, 100);
    const plugin = await findPlugin(this.d.db, pluginName, version || undefined);
    if (!plugin) throw notFound(version ? `plugin ${pluginName} version ${version} is not published` : `plugin ${pluginName} is not published`);
    const settings = jobSettings(req, parseManifest(plugin), { maxAttempts: this.d.cfg.defaultMaxAttempts, timeouts: this.d.cfg.timeouts });
    const controls = queueControls(req, this.d.clock.now());
    const { job, created } = await this.d.lifecycle.submitted({
      job: jobMaker(plugin, {
        idempotencyKey: req.idempotencyKey || undefined,
        submitFingerprint: submitFingerprint({ pluginName, pluginVersion: version, inputPath, maxAttempts, timeouts: req.timeouts, backoff: req.backoff, priority: controls.priority }),
        traceparent,
        ...settings,
        ...controls,
      })(inputPath),
    }).catch((e: unknown) => {
      throw e instanceof IdempotencyKeyConflict ? alreadyExists(e.message) : e;
    });
    if (created) this.d.logger.debug('job submitted', { jobId: job.id, plugin: `${pluginName}@${plugin.version}`, ...traceFields(job.traceparent) });
    return { job: await this.jobPb(job), created };
  }

  async getJob(req: GetJobRequest): Promise<GetJobResponse> {
    const job = await this.mustGetJob(req.jobId);
    const logs = req.includeLogs ? await listLogs(this.d.db, job.id) : [];
    return {
      job: await this.jobPb(job, true),
      logs: logs.map((l) => ({ attempt: l.attempt, level: l.level, message: l.message, time: new Date(l.time), source: l.source })),
    };
  }

  async listJobs(req: ListJobsRequest): Promise<ListJobsResponse> {
    const state = req.state ? stateFromPb(req.state) : undefined;
    if (req.state && !state) throw invalidArgument(`state ${req.state} is not a job state`);
    if (req.pluginName) requireName('plugin_name', req.pluginName);
    if (req.batchId) requireName('batch_id', req.batchId);
    const limit = Math.min(1000, req.pageSize || 100);
    let beforeSeq: number | undefined;
    if (req.pageToken) {
      beforeSeq = Number(req.pageToken);
      if (!Number.isInteger(beforeSeq) || beforeSeq <= 0) throw invalidArgument('page_token is not a token returned by ListJobs');
    }
    const rows = await listJobs(this.d.db, { state, pluginName: req.pluginName || undefined, batchId: req.batchId || undefined, limit: limit + 1, beforeSeq });
    const page = rows.slice(0, limit);
    const outputs = await getOutputsOf(this.d.db, page.filter((r) => r.state === 'succeeded').map((r) => r.id));
    const jobs = page.map((r) => jobToPb(r, outputs.get(r.id) ?? [], this.d.scheduler.waitingReason(r)));
    return { jobs, nextPageToken: rows.length > limit ? String(page[page.length - 1].seq) : '' };
  }

  async cancelJob(req: CancelJobRequest): Promise<CancelJobResponse> {
    if (!req.jobId) throw invalidArgument('job_id is required');
    if (req.reason.length > 1000) throw invalidArgument('reason is longer than 1000 characters');
    const res = await this.d.lifecycle.cancelled({ jobId: req.jobId, reason: req.reason });
    if (res.kind === 'not_found') throw notFound(`job ${req.jobId} does not exist`);
    if (res.kind === 'final') throw failedPrecondition(`job ${req.jobId} is already ${res.job.state}; only queued or running jobs can be cancelled`);
    return { job: await this.jobPb(res.job) };
  }

  /** SubmitJobs, WatchJobs: see batch-api.ts. */
  submitJobs(req: SubmitJobsRequest, traceparent?: string): Promise<SubmitJobsResponse> {
    return submitJobsRpc(this.d, req, traceparent);
  }
  /** SubmitScan: see scan-api.ts. */
  submitScan(req: SubmitScanRequest, write: (m: SubmitScanResponse) => Promise<void>, isCancelled: () => boolean, traceparent?: string): Promise<void> {
    return submitScanRpc(this.d, req, write, isCancelled, traceparent);
  }
  watchJobs(req: WatchJobsRequest, write: (m: WatchJobsResponse) => Promise<void>, isCancelled: () => boolean): Promise<void> {
    return watchJobsRpc(this.d, req, write, isCancelled, (j) => this.jobPb(j));
  }

  /** PurgeJobs: see retention-api.ts. */
  purgeJobs(req: PurgeJobsRequest): Promise<PurgeJobsResponse> {
    return purgeJobsRpc(this.d, req);
  }

  /** RetryJob, PausePlugin, ResumePlugin: see recovery-api.ts. */
  retryJob(req: RetryJobRequest): Promise<RetryJobResponse> {
    return retryJobRpc(this.d, req, (j) => this.jobPb(j));
  }
  pausePlugin(req: PausePluginRequest): Promise<PausePluginResponse> {
    return pausePluginRpc(this.d, req);
  }
  resumePlugin(req: ResumePluginRequest): Promise<ResumePluginResponse> {
    return resumePluginRpc(this.d, req);
  }

  /** Workers connected to this replica, then (replicas) those other replicas hold. */
  async listWorkers(): Promise<ListWorkersResponse> {
    const local = this.localWorkers();
    const ids = new Set(local.map((w) => w.workerId));
    const others = this.d.otherWorkers ? (await this.d.otherWorkers()).filter((w) => !ids.has(w.workerId)) : [];
    return { workers: [...local, ...others], dispatchPausedReason: this.d.scheduler.dispatchPausedReason() };
  }

  /** The workers whose Dispatch streams this replica holds. */
  localWorkers(): WorkerInfo[] {
    const replica = this.d.bus?.replicated ? this.d.bus.replicaId : '';
    return [...this.d.scheduler.workers.values()].map((w) => ({
        workerId: w.workerId,
        hostname: w.hostname,
        version: w.version,
        slots: w.slots,
        busySlots: w.inFlight.size,
        envMode: w.envMode,
        mayProvision: w.mayProvision,
        envs: [...w.envs.values()],
        connectedAt: new Date(w.connectedAt),
        lastHeartbeatAt: new Date(w.lastHeartbeatAt),
        draining: w.draining,
        sentinelReplica: replica,
    }));
  }

  /**
   * WatchJob: a snapshot, then events until the job is final (or the client
   * goes away). Events wait in a queue while the client reads: state and
   * progress events coalesce (each message carries the whole job, re-read),
   * log lines do not; a watcher more than `watchQueueMax` events behind is
   * ended with RESOURCE_EXHAUSTED rather than let the queue grow.
   */
  async watchJob(req: WatchJobRequest, write: (m: WatchJobResponse) => Promise<void>, isCancelled: () => boolean): Promise<void> {
    if (!req.jobId) throw invalidArgument('job_id is required');
    // Subscribe before reading the snapshot, so no change can fall in between.
    const queue: JobEvent[] = [];
    let overflow = false;
    let wake: (() => void) | undefined;
    const unsubscribe = this.d.events.subscribe(req.jobId, (e) => {
      const last = queue[queue.length - 1];
      if (e.kind !== 'log' && last?.kind === e.kind) queue[queue.length - 1] = e;
      else if (queue.length >= this.d.cfg.watchQueueMax) overflow = true;
      else queue.push(e);
      wake?.();
    });
    try {
      const first = await this.mustGetJob(req.jobId);
      let lastState = first.state;
      await write({ kind: JobEventKind.JOB_EVENT_KIND_STATE, job: await this.jobPb(first) });
      if (FINAL_STATES.includes(first.state)) return;
      while (!isCancelled()) {
        if (overflow) {
          throw resourceExhausted(
            `this watcher fell more than ${this.d.cfg.watchQueueMax} events behind job ${first.id} (it reads too slowly); ` +
              'call WatchJob again for a fresh snapshot, or GetJob with include_logs for the logs',
          );
        }
        if (queue.length === 0) {
          const timedOut = await new Promise<boolean>((r) => {
            wake = () => r(false);
            setTimeout(() => r(true), 1_000).unref();
          });
          wake = undefined;
          // Belt and braces: a quiet second re-reads the job, so a missed event cannot stall the stream.
          if (timedOut) {
            const job = await this.mustGetJob(first.id);
            if (job.state !== lastState) queue.push({ kind: 'state', jobId: job.id });
          }
          continue;
        }
        const e = queue.shift()!;
        const job = await this.mustGetJob(first.id);
        if (e.kind === 'state') {
          lastState = job.state;
          await write({ kind: JobEventKind.JOB_EVENT_KIND_STATE, job: await this.jobPb(job) });
          if (FINAL_STATES.includes(job.state)) return;
        } else if (e.kind === 'progress') {
          await write({ kind: JobEventKind.JOB_EVENT_KIND_PROGRESS, job: await this.jobPb(job), progress: { rows: e.rows, fraction: e.fraction, message: e.message } });
        } else {
          await write({
            kind: JobEventKind.JOB_EVENT_KIND_LOG,
            job: await this.jobPb(job),
            log: { attempt: e.attempt, level: e.level, message: e.message, source: e.source, time: new Date(e.time) },
          });
        }
      }
    } finally {
      unsubscribe();
    }
  }

  async fetchOutput(req: FetchOutputRequest, write: (m: FetchOutputResponse) => Promise<void>): Promise<void> {
    const job = await this.mustGetJob(req.jobId);
    if (job.state !== 'succeeded') throw failedPrecondition(`job ${job.id} is ${job.state}; outputs exist only for succeeded jobs`);
    const outputs = await getOutputs(this.d.db, job.id);
    let out = outputs.find((o) => o.name === (req.outputName || 'default'));
    if (!out && !req.outputName && outputs.length === 1) out = outputs[0];
    if (!out) {
      const names = outputs.map((o) => o.name).join(', ') || '(none)';
      throw notFound(`job ${job.id} has no output "${req.outputName || 'default'}"; its outputs: ${names}`);
    }
    let first = true;
    for await (const chunk of this.d.store.readAsIpc(out.parquet_path)) {
      await write({ output: first ? outputToPb(out) : undefined, data: Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) });
      first = false;
    }
  }

  private async mustGetJob(jobId: string): Promise<JobRow> {
    if (!jobId) throw invalidArgument('job_id is required');
    const job = await getJob(this.d.db, jobId);
    if (!job) throw notFound(`job ${jobId} does not exist`);
    return job;
  }

  private async jobPb(job: JobRow, withDeliveries = false) {
    const outputs = job.state === 'succeeded' ? await getOutputs(this.d.db, job.id) : [];
    const deliveries =
      withDeliveries && job.state === 'succeeded'
        ? await this.d.db.selectFrom('sink_deliveries').select(['output', 'kind', 'target', 'state', 'error']).where('job_id', '=', job.id).orderBy('output').execute()
        : [];
    return jobToPb(job, outputs, this.d.scheduler.waitingReason(job), deliveries);
  }
}

/** The sink routes of a publish (an empty mode is append); INVALID_ARGUMENT naming the first bad one. */
function checkSinks(routes: { output: string; kind: string; target: string; mode: string }[], sinkRoots: readonly string[]): SinkRoute[] {
  try {
    return checkRoutes(routes.map((r) => ({ output: r.output, kind: r.kind as SinkKind, target: r.target, mode: (r.mode || 'append') as SinkMode })), sinkRoots);
  } catch (err) {
    if (err instanceof SinkRouteError) throw invalidArgument(err.message);
    throw err;
  }
}

/** The contracts a source declares: INVALID_ARGUMENT for a bad declaration, FAILED_PRECONDITION when this Sentinel cannot read it. */
async function readContracts(source: string, python: string): Promise<PluginContracts | undefined> {
  try {
    return await extractContracts(source, python);
  } catch (err) {
    if (err instanceof ContractError) throw invalidArgument(`the plugin's output declaration: ${err.message}`);
    throw failedPrecondition((err as Error).message);
  }
}
