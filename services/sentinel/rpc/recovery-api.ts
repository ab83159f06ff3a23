/**
 * Client RPCs that recover from failures: RetryJob (replay a failed,
 * dead-letter or cancelled job) and PausePlugin/ResumePlugin (the circuit
 * breaker by hand). Plain async functions; ClientApi delegates to them.
 */
import { failedPrecondition, invalidArgument, notFound, unavailable } from '../../common/rpc-error';
import type {
  PausePluginRequest,
  PausePluginResponse,
  ResumePluginRequest,
  ResumePluginResponse,
  RetryJobRequest,
  RetryJobResponse,
} from '../../gen/casparian/v1/sentinel';
import type { Job } from '../../gen/casparian/v1/types';
import { optionalVersion, requireName } from '../../common/validate';
import type { JobRow } from '../queue';
import type { ClientApiDeps } from './context';
import { pluginToPb } from './mappers';

export async function retryJobRpc(d: ClientApiDeps, req: RetryJobRequest, jobPb: (j: JobRow) => Promise<Job>): Promise<RetryJobResponse> {
  if (!d.accepting()) throw unavailable('the Sentinel is shutting down and accepts no new work');
  if (!req.jobId) throw invalidArgument('job_id is required');
  const res = await d.lifecycle.retried({ jobId: req.jobId, resetAttempts: req.resetAttempts });
  switch (res.kind) {
    case 'not_found':
      throw notFound(`job ${req.jobId} does not exist`);
    case 'not_retryable':
      throw failedPrecondition(
        `job ${req.jobId} is ${res.job.state}; only failed, dead_letter or cancelled jobs can be retried` +
          (res.job.state === 'succeeded' ? ' (submit it again to rerun a succeeded job)' : ''),
      );
    case 'retried':
      return { job: await jobPb(res.job) };
  }
}

function versionRef(req: { name: string; version: string }): { name: string; version: string } {
  const name = requireName('name', req.name);
  const version = optionalVersion('version', req.version);
  if (!version) throw invalidArgument('version is required: the circuit breaker works per plugin version');
  return { name, version };
}

export async function pausePluginRpc(d: ClientApiDeps, req: PausePluginRequest): Promise<PausePluginResponse> {
  const ref = versionRef(req);
  if (req.reason.length > 1000) throw invalidArgument('reason is longer than 1000 characters');
  const row = await d.lifecycle.pluginPaused({ ...ref, reason: req.reason });
  if (!row) throw notFound(`plugin ${ref.name} version ${ref.version} is not published`);
  return { plugin: pluginToPb(row) };
}

export async function resumePluginRpc(d: ClientApiDeps, req: ResumePluginRequest): Promise<ResumePluginResponse> {
  const ref = versionRef(req);
  const row = await d.lifecycle.pluginResumed(ref);
  if (!row) throw notFound(`plugin ${ref.name} version ${ref.version} is not published`);
  return { plugin: pluginToPb(row) };
}
