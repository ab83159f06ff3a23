/**
 * Worker.Run: run a plugin on one file directly, without the queue, streaming
 * logs, progress, Arrow chunks and finally the verdict. For debugging plugins.
 * The attempt is run by an AttemptRunner whose channel is the response
 * stream; cancelling the call breaks the channel, which cancels the run.
 */
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { jobErrorToPb } from '../../common/job-error-pb';
import type { Logger } from '../../common/logger';
import { serverStream } from '../../common/rpc-adapters';
import { invalidArgument } from '../../common/rpc-error';
import { WorkerService, type RunRequest, type RunResponse, type WorkerServer } from '../../gen/casparian/v1/worker';
import { AttemptRunner, type AttemptDeps } from '../attempt/attempt-runner';
import type { AttemptChannel, AttemptResult, AttemptSpec, VerdictReceipt } from '../attempt/types';
import { envHashOf } from '../envs/env-hash';
import { isIsolation } from '../../common/isolation';
import { manifestSettings, type ManifestSettings } from '../attempt/artifact-check';
import { timeoutsFromPb, verdictStatus } from './mappers';

/** A Run call's response stream as an attempt's channel. */
class RunChannel implements AttemptChannel {
  constructor(
    private readonly write: (msg: RunResponse) => Promise<void>,
    private readonly call: ServerWritableStream<RunRequest, RunResponse>,
  ) {}

  log(level: string, source: 'plugin' | 'env' | 'worker', message: string): Promise<void> {
    return this.write({ msg: { $case: 'log', log: { attempt: 1, level, message, source, time: new Date() } } });
  }

  progress(p: { rows: number; fraction: number; message: string }): Promise<void> {
    return this.write({ msg: { $case: 'progress', progress: p } });
  }

  chunk(outputName: string, data: Buffer): Promise<void> {
    return this.write({ msg: { $case: 'chunk', chunk: { outputName, data } } });
  }

  async finish(result: AttemptResult): Promise<VerdictReceipt> {
    await this.write({ msg: { $case: 'verdict', verdict: { status: verdictStatus(result.status), error: result.error ? jobErrorToPb(result.error) : undefined, metrics: result.metrics } } });
    return {};
  }

  onBroken(fn: (e: Error) => void): void {
    if (this.call.cancelled) fn(new Error('the Run call was cancelled'));
    else this.call.on('cancelled', () => fn(new Error('the Run call was cancelled')));
  }

  /** Nothing to give up: the call's end (or its cancellation) is the adapter's. */
  abandon(): void {}
}

/**
 * A Run request as an attempt. The worker's signature policy applies as to a
 * dispatched attempt: a signed Run names the published version and carries
 * the stored manifest JSON, whose settings (env_allow, limits, isolation) it
 * then runs with; an unsigned one runs with none of them.
 */
function specFromRequest(req: RunRequest): AttemptSpec {
  if (!req.source.trim()) throw invalidArgument('source is required');
  if (!req.lockfile.trim()) throw invalidArgument('lockfile is required');
  if (!req.inputPath || !path.isAbsolute(req.inputPath)) throw invalidArgument('input_path must be an absolute path');
  const signed = req.signature.length > 0 || req.signingKeyId !== '';
  if (signed && (!req.pluginName || !req.pluginVersion || !req.manifestJson)) {
    throw invalidArgument('a signed Run needs plugin_name, plugin_version and manifest_json as published: the signature covers them');
  }
  let settings: ManifestSettings = { envAllow: [], limits: { memoryMb: 0, cpuSeconds: 0, openFiles: 0 }, isolation: '' };
  if (req.manifestJson) {
    try {
      settings = manifestSettings(req.manifestJson);
    } catch (err) {
      throw invalidArgument(`manifest_json: ${(err as Error).message}`);
    }
  }
  return {
    jobId: `run-${crypto.randomUUID()}`,
    attempt: 1,
    pluginName: req.pluginName || 'adhoc',
    pluginVersion: req.pluginVersion || 'adhoc',
    source: req.source,
    envHash: envHashOf(req.lockfile),
    lockfile: req.lockfile,
    inputPath: req.inputPath,
    timeouts: timeoutsFromPb(req.timeouts),
    envAllow: settings.envAllow,
    limits: settings.limits,
    isolation: isIsolation(settings.isolation) ? settings.isolation : '',
    artifact: { artifactHash: '', manifestJson: req.manifestJson, signature: req.signature, signingKeyId: req.signingKeyId },
  };
}

export function workerImplementation(deps: AttemptDeps, workerId: string, logger: Logger): WorkerServer {
  return {
    run: serverStream<RunRequest, RunResponse>(logger, 'Run', async (req, write, call) => {
      const runner = new AttemptRunner(specFromRequest(req), deps, { workerId });
      const channel = new RunChannel(write, call);
      await runner.run(async () => channel);
    }),
  };
}

/** The worker's service name, also its health name for "can take a job now". */
export const WORKER_SERVICE = 'casparian.v1.Worker';

/** The casparian.v1.Worker service, for startServer. */
export function workerService(deps: AttemptDeps, workerId: string, logger: Logger) {
  return { name: WORKER_SERVICE, definition: WorkerService, impl: workerImplementation(deps, workerId, logger) };
}
