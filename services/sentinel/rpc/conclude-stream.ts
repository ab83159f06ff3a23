/**
 * Sentinel.Conclude: one call per job attempt.
 *
 *   worker: header → (chunk | log | progress)* → verdict
 *   sentinel: header_ack after the lease check; verdict_ack after applying the verdict
 *
 * Output bytes are staged on disk as they arrive and committed (files and DB
 * rows together) only on a valid SUCCEEDED verdict from the current lease
 * holder. A stream that breaks before its verdict commits nothing and the
 * attempt is retried as worker_lost.
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { isStoreUnavailable } from '../../common/store-target';
import { JobErrors, JobFailure, type JobError } from '../../common/job-error';
import { jobErrorFromPb } from '../../common/job-error-pb';
import type { Logger } from '../../common/logger';
import { failedPrecondition, invalidArgument, resourceExhausted, RpcError } from '../../common/rpc-error';
import { failCall, messagesOf } from '../../common/rpc-adapters';
import { VerdictStatus, type ConcludeRequest, type ConcludeResponse, type Verdict } from '../../gen/casparian/v1/dispatch';
import { getJob, getOutputs, type AttemptMetrics, type AttemptRef, type JobRow } from '../queue';
import type { StagingArea } from '../sinks/staging-area';
import { overQuarantineLimit, quarantinePolicy, type PluginContracts } from '../plugins/contracts';
import { contractsOf, findPlugin, sinksOf, type PluginRow } from '../plugins/registry';
import { deliveryRows } from '../sinks/delivery';
import type { RpcContext } from './context';
import { outputToPb, stateToPb } from './mappers';
import { traceFields } from '../../common/trace-context';

export type ConcludeDeps = Pick<RpcContext, 'db' | 'clock' | 'lifecycle' | 'store' | 'logger' | 'metrics' | 'sinks' | 'catalog'> & { cfg: Pick<RpcContext['cfg'], 'maxOutputBytes' | 'maxLogBytes'> };

type Call = ServerDuplexStream<ConcludeRequest, ConcludeResponse>;

function metricsOf(v: Verdict): AttemptMetrics {
  const m = v.metrics;
  return { rows: m?.rows ?? 0, durationMs: m?.durationMs ?? 0, envMs: m?.envMs ?? 0, envProvisioned: m?.envProvisioned ?? false, arrowBytes: m?.arrowBytes ?? 0 };
}

export function concludeHandler(d: ConcludeDeps): (call: Call) => void {
  return (call) => {
    new ConcludeSession(d, call).run().catch((err) => d.logger.error('conclude session crashed', { error: String(err?.stack ?? err) }));
  };
}

class ConcludeSession {
  private ref: AttemptRef | undefined;
  /** The worker the attempt was dispatched to (from its job row at the header). */
  private workerId = '';
  /** Arrow bytes and log bytes received for this attempt, against the caps. */
  private outputBytes = 0;
  private logBytes = 0;
  private staging: StagingArea | undefined;
  private plugin: PluginRow | undefined;
  private contracts: PluginContracts | undefined;
  private logger: Logger;

  constructor(
    private readonly d: ConcludeDeps,
    private readonly call: Call,
  ) {
    this.logger = d.logger;
  }

  async run(): Promise<void> {
    try {
      for await (const req of messagesOf<ConcludeRequest>(this.call)) {
        const done = await this.handle(req);
        if (done) {
          this.call.end();
          return;
        }
      }
      await this.broken('the Conclude stream ended before a verdict');
    } catch (err) {
      if (err instanceof JobFailure && this.ref) {
        // The worker sent something invalid for this attempt (e.g. a bad output name): fail the attempt.
        await this.staging?.discard().catch(() => {});
        await this.settleFailure(err.jobError, undefined);
        this.fail(err.jobError.code === 'SINK_FULL' ? resourceExhausted(err.message) : invalidArgument(err.message));
        return;
      }
      if (!(err instanceof RpcError) && (this.call.cancelled || (err as { code?: string }).code === 'ERR_STREAM_PREMATURE_CLOSE')) {
        await this.broken('the Conclude stream broke before a verdict');
        return;
      }
      await this.staging?.discard().catch(() => {});
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    failCall(this.call, err, this.logger, 'Conclude');
  }

  /** Returns true when the call is finished. */
  private async handle(req: ConcludeRequest): Promise<boolean> {
    const m = req.msg;
    if (!m) throw invalidArgument('empty ConcludeRequest');
    if (!this.ref) {
      if (m.$case !== 'header') throw invalidArgument('the first Conclude message must be a header');
      await this.start(m.header.jobId, m.header.attempt, m.header.leaseToken);
      return false;
    }
    const ref = this.ref;
    switch (m.$case) {
      case 'header':
        throw invalidArgument('header sent twice on one Conclude call');
      case 'chunk':
        this.outputBytes += m.chunk.data.length;
        if (this.outputBytes > this.d.cfg.maxOutputBytes) {
          throw new JobFailure(
            JobErrors.invalidOutput(`the outputs of one attempt may be at most ${this.d.cfg.maxOutputBytes} bytes of Arrow (CASPARIAN_MAX_OUTPUT_BYTES); this one sent more, nothing was committed`),
          );
        }
        await this.staging!.append(m.chunk.outputName, m.chunk.data);
        return false;
      case 'log': {
        const level = ['debug', 'info', 'warn', 'error'].includes(m.log.level) ? m.log.level : 'info';
        const max = this.d.cfg.maxLogBytes;
        if (this.logBytes > max) return false; // over the cap: dropped, after the note below
        this.logBytes += Buffer.byteLength(m.log.message);
        const message = this.logBytes > max ? `log truncated: this attempt logged more than ${max} bytes (CASPARIAN_MAX_LOG_BYTES); later lines are dropped` : m.log.message;
        await this.d.lifecycle.attemptLogged({ ref, level: this.logBytes > max ? 'warn' : level, source: this.logBytes > max ? 'worker' : m.log.source || 'plugin', message });
        return false;
      }
      case 'progress':
        this.d.lifecycle.attemptProgressed({ ref, rows: m.progress.rows, fraction: m.progress.fraction, message: m.progress.message });
        return false;
      case 'source':
        if (!/^[0-9a-f]{64}$/.test(m.source.sha256)) throw invalidArgument('source.sha256 must be 64 lowercase hex digits');
        this.staging!.setSourceHash(m.source.sha256);
        return false;
      case 'verdict':
        await this.applyVerdict(m.verdict);
        return true;
    }
  }

  private async start(jobId: string, attempt: number, leaseToken: string): Promise<void> {
    if (!jobId || !attempt || !leaseToken) throw invalidArgument('header needs job_id, attempt and lease_token');
    const ref = { jobId, attempt, leaseToken };
    const job = await this.d.lifecycle.attemptStarted({ ref });
    if (!job) throw failedPrecondition(`attempt ${attempt} of job ${jobId} does not hold the lease (reassigned, cancelled or finished)`);
    this.ref = ref;
    this.workerId = job.worker_id ?? '';
    this.logger = this.d.logger.scope({ jobId, attempt, ...traceFields(job.traceparent) });
    this.plugin = await findPlugin(this.d.db, job.plugin_name, job.plugin_version);
    this.contracts = this.plugin ? contractsOf(this.plugin) : undefined;
    this.staging = this.d.store.stage(jobId, attempt, {
      contracts: this.contracts?.outputs,
      lineage: { jobId, pluginVersion: job.plugin_version },
      metadata: {
        'casparian.job_id': jobId,
        'casparian.plugin': `${job.plugin_name}@${job.plugin_version}`,
        'casparian.artifact_hash': this.plugin?.artifact_hash ?? '',
        'casparian.env_hash': job.env_hash,
        'casparian.input_path': job.input_path,
      },
    });
    this.call.write({ msg: { $case: 'headerAck', headerAck: { state: stateToPb(job.state) } } });
  }

  private async applyVerdict(v: Verdict): Promise<void> {
    const ref = this.ref!;
    this.d.lifecycle.verdictArrived({ ref, workerId: this.workerId });
    const metrics = metricsOf(v);
    let row: JobRow | undefined;
    if (v.status === VerdictStatus.VERDICT_STATUS_SUCCEEDED) {
      row = await this.commit(ref, metrics);
    } else if (v.status === VerdictStatus.VERDICT_STATUS_FAILED || v.status === VerdictStatus.VERDICT_STATUS_CANCELLED) {
      await this.staging!.discard();
      const error = jobErrorFromPb(v.error) ?? JobErrors.guestProtocol('the worker reported a failure without an error');
      const current = await getJob(this.d.db, ref.jobId);
      if (v.status === VerdictStatus.VERDICT_STATUS_CANCELLED && current?.cancel_requested) {
        row = await this.d.lifecycle.attemptCancelled({ ref });
      } else {
        row = await this.settleFailure(error, metrics);
      }
    } else {
      throw invalidArgument('verdict status must be SUCCEEDED, FAILED or CANCELLED');
    }
    if (!row) throw failedPrecondition(`attempt ${ref.attempt} of job ${ref.jobId} lost its lease; the verdict was not applied`);
    this.d.metrics?.jobDuration.observe({ outcome: row.state === 'succeeded' ? 'succeeded' : v.status === VerdictStatus.VERDICT_STATUS_CANCELLED ? 'cancelled' : 'failed' }, metrics.durationMs / 1000);
    if (row.state === 'succeeded') this.d.metrics?.arrowBytesCommitted.inc(metrics.arrowBytes);
    const outputs = row.state === 'succeeded' ? await getOutputs(this.d.db, ref.jobId) : [];
    this.call.write({ msg: { $case: 'verdictAck', verdictAck: { state: stateToPb(row.state), outputs: outputs.map(outputToPb) } } });
  }

  /** Seal and publish the staged files, then write the DB rows; undo the files if the lease was lost. */
  private async commit(ref: AttemptRef, metrics: AttemptMetrics): Promise<JobRow | undefined> {
    let sealed;
    try {
      sealed = await this.staging!.seal();
    } catch (err) {
      await this.staging!.discard();
      if (err instanceof JobFailure) return this.settleFailure(err.jobError, metrics);
      throw err;
    }
    const over = sealed.map((o) => overQuarantineLimit(o.name, o.rows, o.quarantined ?? 0, quarantinePolicy(this.contracts, o.name))).filter(Boolean);
    if (over.length) {
      await this.staging!.discard();
      return this.settleFailure(JobErrors.quarantineLimit(`${over.join('; ')}; nothing was committed (the plugin's QUARANTINE sets the limits)`), metrics);
    }
    const quarantinedRows = sealed.reduce((n, o) => n + (o.quarantined ?? 0), 0);
    if (quarantinedRows) metrics = { ...metrics, quarantinedRows };
    const routes = this.plugin ? sinksOf(this.plugin) : [];
    const conflict = routes.length && this.d.sinks ? await this.d.sinks.conflicts(routes, sealed.map((o) => o.name)) : '';
    if (conflict) {
      await this.staging!.discard();
      return this.settleFailure(JobErrors.sinkConflict(`${conflict}; nothing was committed`), metrics);
    }
    let published;
    try {
      published = await this.staging!.publish();
    } catch (err) {
      await this.staging!.discard();
      if (err instanceof JobFailure) return this.settleFailure(err.jobError, metrics);
      throw err;
    }
    const { dir, outputs } = published;
    let row: JobRow | undefined;
    let outcomeUnknown = false;
    try {
      row = await this.d.lifecycle.attemptSucceeded({
        ref,
        outputs: outputs.map((o) => ({ name: o.name, rows: o.rows, sizeBytes: o.sizeBytes, parquetPath: o.parquetPath, columns: o.schema })),
        metrics,
        deliveries: routes.length ? (now) => deliveryRows(ref.jobId, outputs, routes, now) : undefined,
      });
    } catch (err) {
      // The connection broke during the commit: it may have been applied. The dir stays; the output sweep removes it
      // once the database says no row references it and the attempt no longer holds its lease.
      outcomeUnknown = isStoreUnavailable(err);
      if (outcomeUnknown) {
        this.logger.warn('the database went away during the commit; its outcome is unknown, the published dir is kept until the database says', { dir });
        this.d.store.uncertain(dir, ref.jobId, ref.attempt);
      }
      throw err;
    } finally {
      if (!row && !outcomeUnknown) await this.d.store.unpublish(dir);
    }
    if (!row) return undefined;
    if (routes.length) this.d.sinks?.kick();
    this.d.catalog?.committed(outputs.map((o) => o.name));
    this.logger.info('attempt committed', { outputs: outputs.map((o) => `${o.name}:${o.rows}`).join(','), rows: metrics.rows });
    return row;
  }

  private async settleFailure(error: JobError, metrics: AttemptMetrics | undefined): Promise<JobRow | undefined> {
    const row = await this.d.lifecycle.attemptFailed({ ref: this.ref!, error, metrics });
    if (row) this.logger.info('attempt failed', { code: error.code, errorClass: error.errorClass, state: row.state });
    return row;
  }

  private async broken(why: string): Promise<void> {
    await this.staging?.discard().catch(() => {});
    if (!this.ref) return;
    this.logger.warn(`${why}; nothing committed`);
    await this.settleFailure(JobErrors.workerLost(`${why}; nothing was committed`), undefined);
  }
}
