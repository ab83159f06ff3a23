/**
 * Worker.Run: run a plugin on one file directly, without the queue, streaming
 * logs, progress, Arrow chunks and finally the verdict. For debugging plugins.
 * Cancelling the call cancels the run.
 */
import * as crypto from 'node:crypto';
import type { Logger } from '../../common/logger';
import { serverStream } from '../../common/rpc-adapters';
import { invalidArgument } from '../../common/rpc-error';
import type { RunRequest, RunResponse, WorkerServer } from '../../gen/casparian/v1/worker';
import { runAttempt, type AttemptDeps } from '../attempt/run-attempt';
import { envHashOf } from '../envs/env-hash';
import { jobErrorToPb } from '../../common/job-error-pb';
import { timeoutsFromPb, verdictStatus } from './mappers';
import * as path from 'node:path';

export function workerImplementation(deps: AttemptDeps, logger: Logger): WorkerServer {
  return {
    run: serverStream<RunRequest, RunResponse>(logger, 'Run', async (req, write, call) => {
      if (!req.source.trim()) throw invalidArgument('source is required');
      if (!req.lockfile.trim()) throw invalidArgument('lockfile is required');
      if (!req.inputPath || !path.isAbsolute(req.inputPath)) throw invalidArgument('input_path must be an absolute path');
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      const result = await runAttempt(
        {
          jobId: `run-${crypto.randomUUID()}`,
          attempt: 1,
          pluginName: req.pluginName || 'adhoc',
          pluginVersion: 'adhoc',
          source: req.source,
          envHash: envHashOf(req.lockfile),
          lockfile: req.lockfile,
          inputPath: req.inputPath,
          timeouts: timeoutsFromPb(req.timeouts),
          envAllow: [],
          limits: { memoryMb: 0, cpuSeconds: 0, openFiles: 0 },
        },
        {
          log: (level, source, message) => write({ msg: { $case: 'log', log: { attempt: 1, level, message, source, time: new Date() } } }),
          progress: (p) => write({ msg: { $case: 'progress', progress: p } }),
          chunk: (outputName, data) => write({ msg: { $case: 'chunk', chunk: { outputName, data } } }),
        },
        deps,
        abort.signal,
      );
      await write({ msg: { $case: 'verdict', verdict: { status: verdictStatus(result.status), error: result.error ? jobErrorToPb(result.error) : undefined, metrics: result.metrics } } });
    }),
  };
}
