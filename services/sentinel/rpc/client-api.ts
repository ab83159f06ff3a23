/**
 * The client-facing RPCs of the Sentinel as plain async functions over
 * generated request/response types. sentinel-service.ts wraps them for grpc-js.
 */
import * as crypto from 'node:crypto';
import { failedPrecondition, invalidArgument, notFound, alreadyExists, unavailable } from '../../common/rpc-error';
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
  type WatchJobRequest,
  type WatchJobResponse,
} from '../../gen/casparian/v1/sentinel';
import type { RetryBackoff, Timeouts } from '../../gen/casparian/v1/types';
import { FINAL_STATES } from '../db/schema';
import type { JobEvent } from '../job-events';
import { backoffOverrides, findPlugin, listPlugins, parseManifest, publishPlugin } from '../plugins/registry';
import { getOutputsOf, enqueueJob, getJob, getOutputs, listJobs, listLogs, requestCancel, IdempotencyKeyConflict, submitFingerprint, type JobRow, type JobTimeouts } from '../queue';
import { jobToPb, outputToPb, pluginToPb, stateFromPb } from './mappers';
import type { RpcContext } from './context';
import { checkInputRoots } from './input-roots';
import { pausePluginRpc, resumePluginRpc, retryJobRpc } from './recovery-api';
import { boundedInt, MAX_LOCKFILE_BYTES, MAX_SOURCE_BYTES, optionalVersion, requireAbsolutePath, requireName, requireText } from './validate';

export interface ClientApiDeps extends RpcContext {
  /** False while the Sentinel drains: submissions get UNAVAILABLE. */
  accepting(): boolean;
}

const MAX_TIMEOUT_MS = 7 * 24 * 3600 * 1000;

const MAX_BACKOFF_MS = 24 * 3600 * 1000;

/** A backoff override from a request: zero fields inherit; others must be sane. */
function validBackoff(field: string, b: RetryBackoff | undefined): { initialMs: number; multiplier: number; maxMs: number } {
  const multiplier = b?.multiplier ?? 0;
  if (multiplier !== 0 && !(multiplier >= 1 && multiplier <= 10)) throw invalidArgument(`${field}.multiplier must be between 1 and 10 (or 0 to inherit), got ${multiplier}`);
  return {
    initialMs: boundedInt(`${field}.initial_ms`, b?.initialMs ?? 0, MAX_BACKOFF_MS),
    multiplier,
    maxMs: boundedInt(`${field}.max_ms`, b?.maxMs ?? 0, MAX_BACKOFF_MS),
  };
}

function mergeTimeouts(req: Timeouts | undefined, manifest: JobTimeouts, defaults: JobTimeouts): JobTimeouts {
  const pick = (field: keyof JobTimeouts): number => {
    const v = req?.[field] ?? 0;
    if (v) return boundedInt(`timeouts.${field}`, v, MAX_TIMEOUT_MS);
    return manifest[field] || defaults[field];
  };
  return {
    guestConnectMs: pick('guestConnectMs'),
    idleMs: pick('idleMs'),
    startToCloseMs: pick('startToCloseMs'),
    killGraceMs: pick('killGraceMs'),
    scheduleToStartMs: pick('scheduleToStartMs'),
  };
}

export class ClientApi {
  constructor(private readonly d: ClientApiDeps) {}

  async publishPlugin(req: PublishPluginRequest): Promise<PublishPluginResponse> {
    if (!this.d.accepting()) throw unavailable('the Sentinel is shutting down');
    const name = requireName('name', req.name);
    const version = optionalVersion('version', req.version) || '0.0.0';
    const source = requireText('source', req.source, MAX_SOURCE_BYTES);
    const lockfile = requireText('lockfile', req.lockfile, MAX_LOCKFILE_BYTES);
    const m = req.manifest;
    for (const v of m?.envAllow ?? []) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) throw invalidArgument(`manifest.env_allow entry "${v.slice(0, 80)}" is not a variable name`);
    }
    const t = m?.timeouts;
    const manifest = {
      description: m?.description ?? '',
      envAllow: m?.envAllow ?? [],
      timeouts: {
        guestConnectMs: boundedInt('manifest.timeouts.guest_connect_ms', t?.guestConnectMs ?? 0, MAX_TIMEOUT_MS),
        idleMs: boundedInt('manifest.timeouts.idle_ms', t?.idleMs ?? 0, MAX_TIMEOUT_MS),
        startToCloseMs: boundedInt('manifest.timeouts.start_to_close_ms', t?.startToCloseMs ?? 0, MAX_TIMEOUT_MS),
        killGraceMs: boundedInt('manifest.timeouts.kill_grace_ms', t?.killGraceMs ?? 0, MAX_TIMEOUT_MS),
        scheduleToStartMs: boundedInt('manifest.timeouts.schedule_to_start_ms', t?.scheduleToStartMs ?? 0, MAX_TIMEOUT_MS),
      },
      maxAttempts: boundedInt('manifest.max_attempts', m?.maxAttempts ?? 0, 100),
      limits: {
        memoryMb: boundedInt('manifest.limits.memory_mb', m?.limits?.memoryMb ?? 0, 1024 * 1024),
        cpuSeconds: boundedInt('manifest.limits.cpu_seconds', m?.limits?.cpuSeconds ?? 0, 7 * 24 * 3600),
        openFiles: boundedInt('manifest.limits.open_files', m?.limits?.openFiles ?? 0, 1024 * 1024),
      },
      backoff: validBackoff('manifest.backoff', m?.backoff),
    };
    const res = await publishPlugin(this.d.db, { name, version, source, lockfile, manifest }, this.d.clock.now());
    if (res.kind === 'conflict') {
      throw alreadyExists(`plugin ${name} version ${version} is already published with different content; publish a new version`);
    }
    this.d.logger.info('plugin published', { plugin: name, version, created: res.kind === 'created', envHash: res.plugin.env_hash });
    return { plugin: pluginToPb(res.plugin), created: res.kind === 'created' };
  }

  async listPlugins(req: ListPluginsRequest): Promise<ListPluginsResponse> {
    if (req.name) requireName('name', req.name);
    return { plugins: (await listPlugins(this.d.db, req.name || undefined)).map(pluginToPb) };
  }

  async submitJob(req: SubmitJobRequest): Promise<SubmitJobResponse> {
    if (!this.d.accepting()) throw unavailable('the Sentinel is shutting down and accepts no new jobs');
    const pluginName = requireName('plugin_name', req.pluginName);
    const version = optionalVersion('plugin_version', req.pluginVersion);
    const inputPath = requireAbsolutePath('input_path', req.inputPath);
    checkInputRoots(inputPath, this.d.cfg.inputRoots);
    if (req.idempotencyKey.length > 256) throw invalidArgument('idempotency_key is longer than 256 characters');
    const maxAttempts = boundedInt('max_attempts', req.maxAttempts, 100);
    const plugin = await findPlugin(this.d.db, pluginName, version || undefined);
    if (!plugin) throw notFound(version ? `plugin ${pluginName} version ${version} is not published` : `plugin ${pluginName} is not published`);
    const manifest = parseManifest(plugin);
    const timeouts = mergeTimeouts(req.timeouts, manifest.timeouts, this.d.cfg.timeouts);
    const backoff = { ...backoffOverrides(manifest.backoff), ...backoffOverrides(validBackoff('backoff', req.backoff)) };
    const { job, created } = await enqueueJob(
      this.d.db,
      {
        id: crypto.randomUUID(),
        pluginName,
        pluginVersion: plugin.version,
        envHash: plugin.env_hash,
        inputPath,
        maxAttempts: maxAttempts || manifest.maxAttempts || this.d.cfg.defaultMaxAttempts,
        timeouts,
        idempotencyKey: req.idempotencyKey || undefined,
        submitFingerprint: submitFingerprint({ pluginName, pluginVersion: version, inputPath, maxAttempts, timeouts: req.timeouts, backoff: req.backoff }),
        backoff,
      },
      this.d.clock.now(),
    ).catch((e: unknown) => {
      throw e instanceof IdempotencyKeyConflict ? alreadyExists(e.message) : e;
    });
    if (created) {
      this.d.events.publish({ kind: 'state', jobId: job.id });
      this.d.scheduler.kick();
    }
    return { job: await this.jobPb(job), created };
  }

  async getJob(req: GetJobRequest): Promise<GetJobResponse> {
    const job = await this.mustGetJob(req.jobId);
    const logs = req.includeLogs ? await listLogs(this.d.db, job.id) : [];
    return {
      job: await this.jobPb(job),
      logs: logs.map((l) => ({ attempt: l.attempt, level: l.level, message: l.message, time: new Date(l.time), source: l.source })),
    };
  }

  async listJobs(req: ListJobsRequest): Promise<ListJobsResponse> {
    const state = req.state ? stateFromPb(req.state) : undefined;
    if (req.state && !state) throw invalidArgument(`state ${req.state} is not a job state`);
    if (req.pluginName) requireName('plugin_name', req.pluginName);
    const limit = Math.min(1000, req.pageSize || 100);
    let beforeSeq: number | undefined;
    if (req.pageToken) {
      beforeSeq = Number(req.pageToken);
      if (!Number.isInteger(beforeSeq) || beforeSeq <= 0) throw invalidArgument('page_token is not a token returned by ListJobs');
    }
    const rows = await listJobs(this.d.db, { state, pluginName: req.pluginName || undefined, limit: limit + 1, beforeSeq });
    const page = rows.slice(0, limit);
    const outputs = await getOutputsOf(this.d.db, page.filter((r) => r.state === 'succeeded').map((r) => r.id));
    const jobs = page.map((r) => jobToPb(r, outputs.get(r.id) ?? [], this.d.scheduler.waitingReason(r)));
    return { jobs, nextPageToken: rows.length > limit ? String(page[page.length - 1].seq) : '' };
  }

  async cancelJob(req: CancelJobRequest): Promise<CancelJobResponse> {
    if (!req.jobId) throw invalidArgument('job_id is required');
    if (req.reason.length > 1000) throw invalidArgument('reason is longer than 1000 characters');
    const res = await requestCancel(this.d.db, req.jobId, req.reason, this.d.clock.now());
    switch (res.kind) {
      case 'not_found':
        throw notFound(`job ${req.jobId} does not exist`);
      case 'final':
        throw failedPrecondition(`job ${req.jobId} is already ${res.job.state}; only queued or running jobs can be cancelled`);
      case 'cancelled':
        this.d.events.publish({ kind: 'state', jobId: res.job.id });
        break;
      case 'requested':
        this.d.scheduler.cancelOnWorker(res.job, req.reason || 'cancelled by request');
        this.d.events.publish({ kind: 'state', jobId: res.job.id });
        break;
    }
    return { job: await this.jobPb(res.job) };
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

  async listWorkers(): Promise<ListWorkersResponse> {
    return {
      workers: [...this.d.scheduler.workers.values()].map((w) => ({
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
      })),
    };
  }

  /** WatchJob: a snapshot, then events until the job is final (or the client goes away). */
  async watchJob(req: WatchJobRequest, write: (m: WatchJobResponse) => Promise<void>, isCancelled: () => boolean): Promise<void> {
    if (!req.jobId) throw invalidArgument('job_id is required');
    // Subscribe before reading the snapshot, so no change can fall in between.
    const queue: JobEvent[] = [];
    let wake: (() => void) | undefined;
    const unsubscribe = this.d.events.subscribe(req.jobId, (e) => {
      queue.push(e);
      wake?.();
    });
    try {
      const first = await this.mustGetJob(req.jobId);
      let lastState = first.state;
      await write({ kind: JobEventKind.JOB_EVENT_KIND_STATE, job: await this.jobPb(first) });
      if (FINAL_STATES.includes(first.state)) return;
      while (!isCancelled()) {
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

  private async jobPb(job: JobRow) {
    const outputs = job.state === 'succeeded' ? await getOutputs(this.d.db, job.id) : [];
    return jobToPb(job, outputs, this.d.scheduler.waitingReason(job));
  }
}
