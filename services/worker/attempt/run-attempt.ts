/**
 * Runs one attempt: check the input, get the environment (provisioning it in
 * auto mode), run the plugin through the bridge, and forward its events to a
 * reporter. Arrow bytes are forwarded without decoding, re-chunked so that no
 * message exceeds 1 MiB. Never throws for job-level failures: they come back
 * as a typed error in the result.
 */
import * as fs from 'node:fs/promises';
import { JobErrors, JobFailure, type JobError } from '../../common/job-error';
import type { Logger } from '../../common/logger';
import { runBridge } from '../bridge/bridge-host';
import type { GuestEvent } from '../bridge/types';
import type { EnvManager } from '../envs/env-manager';
import type { AttemptReporter, AttemptResult, AttemptSpec } from './types';

export const MAX_CHUNK_BYTES = 1024 * 1024;

export interface AttemptDeps {
  envs: EnvManager;
  shimPath: string;
  /** The worker's own environment, from which envAllow variables are copied. */
  hostEnv: Readonly<Record<string, string | undefined>>;
  logger: Logger;
}

export async function runAttempt(spec: AttemptSpec, reporter: AttemptReporter, deps: AttemptDeps, signal: AbortSignal): Promise<AttemptResult> {
  const started = Date.now();
  const metrics = { rows: 0, durationMs: 0, envMs: 0, envProvisioned: false, arrowBytes: 0 };
  const fail = (error: JobError): AttemptResult => ({ status: 'failed', error, metrics: { ...metrics, durationMs: Date.now() - started }, outputs: [] });

  try {
    const st = await fs.stat(spec.inputPath);
    if (!st.isFile()) return fail(JobErrors.inputMissing(`input ${spec.inputPath} is not a regular file`));
  } catch (err) {
    return fail(JobErrors.inputMissing(`input ${spec.inputPath} cannot be read: ${(err as Error).message}`));
  }

  const envStart = Date.now();
  let lease;
  try {
    lease = await deps.envs.acquire(spec.envHash, spec.lockfile, {
      log: (line) => void reporter.log('info', 'env', line).catch(() => {}),
    });
  } catch (err) {
    if (err instanceof JobFailure) return fail(err.jobError);
    throw err;
  }
  metrics.envMs = Date.now() - envStart;
  metrics.envProvisioned = lease.provisioned;
  if (lease.provisioned) await reporter.log('info', 'env', `provisioned env ${spec.envHash.slice(0, 12)} with ${lease.backend} in ${lease.durationMs} ms`);

  try {
    const extraEnv: Record<string, string> = {};
    for (const name of spec.envAllow) {
      const v = deps.hostEnv[name];
      if (v !== undefined) extraEnv[name] = v;
    }
    const sink = {
      onEvent: async (e: GuestEvent): Promise<void> => {
        switch (e.kind) {
          case 'arrow':
            metrics.arrowBytes += e.bytes.length;
            for (let off = 0; off < e.bytes.length; off += MAX_CHUNK_BYTES) {
              await reporter.chunk(e.name, e.bytes.subarray(off, Math.min(e.bytes.length, off + MAX_CHUNK_BYTES)));
            }
            return;
          case 'log':
            return reporter.log(e.level, 'plugin', e.message);
          case 'progress':
            return reporter.progress({ rows: e.rows ?? 0, fraction: e.fraction ?? 0, message: e.message ?? '' });
          case 'output_end':
            metrics.rows += e.rows;
            return;
          default:
            return;
        }
      },
    };
    const outcome = await runBridge(
      {
        python: lease.python,
        shimPath: deps.shimPath,
        jobId: spec.jobId,
        attempt: spec.attempt,
        pluginName: spec.pluginName,
        pluginVersion: spec.pluginVersion,
        source: spec.source,
        inputPath: spec.inputPath,
        timeouts: {
          connectMs: spec.timeouts.guestConnectMs,
          idleMs: spec.timeouts.idleMs,
          totalMs: spec.timeouts.startToCloseMs,
          killGraceMs: spec.timeouts.killGraceMs,
        },
        extraEnv,
        limits: spec.limits,
      },
      sink,
      { signal, logger: deps.logger, hostEnv: deps.hostEnv },
    );
    if (outcome.status !== 'succeeded' && outcome.stderrTail.trim()) {
      await reporter.log('warn', 'plugin', `stderr (tail):\n${outcome.stderrTail.slice(-8192)}`).catch(() => {});
    }
    return {
      status: outcome.status,
      error: outcome.error,
      metrics: { ...metrics, durationMs: Date.now() - started },
      outputs: outcome.outputs,
    };
  } finally {
    lease.release();
  }
}
