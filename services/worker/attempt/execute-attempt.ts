/**
 * The work of one attempt, without its channel: check the artifact's
 * signature (artifact-check.ts), check the input, get the
 * environment (provisioning it in auto mode), start the guest and forward its
 * events to a reporter. Never throws for job-level failures: they come back
 * as a typed error in the result. Throws only for faults of the worker
 * itself, which the AttemptRunner turns into an INTERNAL verdict.
 */
import { resolveInput, sha256File } from './input-path';
import { JobErrors, JobFailure, type JobError } from '../../common/job-error';
import type { Logger } from '../../common/logger';
import type { TrustPolicy } from '../../common/signing/trust';
import { checkArtifact } from './artifact-check';
import { forwardingSink } from './event-forwarder';
import type { AttemptReporter, AttemptResult, AttemptSpec, EnvSource, StartGuest } from './types';

export interface AttemptDeps {
  envs: EnvSource;
  /** The isolation seam: how a guest is started for this attempt. */
  startGuest: StartGuest;
  /** The worker's own environment, from which envAllow variables are copied. */
  hostEnv: Readonly<Record<string, string | undefined>>;
  /** Told about env installs and finished attempts (the worker's metrics). */
  observer?: AttemptObserver;
  /** Directories inputs must resolve into (--input-root); undefined = any. */
  inputRoots?: readonly string[];
  /** The operator's allow-list (--guest-env-allow): the only variables a plugin's envAllow may name. Default none. */
  guestEnvAllow?: readonly string[];
  /** Which signatures this worker accepts, and whether it runs unsigned plugins (artifact-check.ts). */
  trust: TrustPolicy;
  logger: Logger;
}

export interface AttemptObserver {
  envProvisioned(ms: number): void;
  envFailed(code: string): void;
  attemptDone(arrowBytes: number): void;
}

export async function executeAttempt(spec: AttemptSpec, reporter: AttemptReporter, deps: AttemptDeps, signal: AbortSignal): Promise<AttemptResult> {
  const started = Date.now();
  const metrics = { rows: 0, durationMs: 0, envMs: 0, envProvisioned: false, arrowBytes: 0 };
  const fail = (error: JobError): AttemptResult => ({ status: 'failed', error, metrics: { ...metrics, durationMs: Date.now() - started }, outputs: [] });

  // Before anything of the plugin runs or is installed: is this the code its publisher signed?
  const unverified = checkArtifact(spec, deps.trust);
  if (unverified) return fail(unverified);

  const refused = spec.envAllow.filter((name) => !(deps.guestEnvAllow ?? []).includes(name));
  if (refused.length) {
    const allowed = deps.guestEnvAllow?.length ? deps.guestEnvAllow.join(', ') : 'none';
    return fail(
      JobErrors.envNotAllowed(
        `the plugin asks for environment variables this worker does not pass to plugins: ${refused.join(', ')} ` +
          `(the worker's --guest-env-allow lists: ${allowed}); ask its operator, or publish the plugin without them`,
      ),
    );
  }

  const input = await resolveInput(spec.inputPath, deps.inputRoots);
  if ('error' in input) return fail(input.error);
  // Hashed while the env and the guest start; awaited only before the first output chunk.
  const sourceHash = sha256File(input.path).catch((err) => {
    deps.logger.warn('cannot hash the input for lineage', { input: input.path, error: (err as Error).message });
    return undefined;
  });

  const envStart = Date.now();
  let lease;
  try {
    lease = await deps.envs.acquire(spec.envHash, spec.lockfile, {
      log: (line) => void reporter.log('info', 'env', line).catch(() => {}),
    });
  } catch (err) {
    if (err instanceof JobFailure) {
      deps.observer?.envFailed(err.jobError.code);
      return fail(err.jobError);
    }
    throw err;
  }
  metrics.envMs = Date.now() - envStart;
  if (lease.provisioned) deps.observer?.envProvisioned(lease.durationMs);
  metrics.envProvisioned = lease.provisioned;
  if (lease.provisioned) await reporter.log('info', 'env', `provisioned env ${spec.envHash.slice(0, 12)} with ${lease.backend} in ${lease.durationMs} ms`);

  try {
    const extraEnv: Record<string, string> = {};
    for (const name of spec.envAllow) {
      const v = deps.hostEnv[name];
      if (v !== undefined) extraEnv[name] = v;
    }
    const outcome = await deps.startGuest(
      {
        envHash: spec.envHash,
        python: lease.python,
        isolation: spec.isolation,
        job: {
          jobId: spec.jobId,
          attempt: spec.attempt,
          pluginName: spec.pluginName,
          pluginVersion: spec.pluginVersion,
          source: spec.source,
          inputPath: input.path,
          timeouts: {
            connectMs: spec.timeouts.guestConnectMs,
            idleMs: spec.timeouts.idleMs,
            totalMs: spec.timeouts.startToCloseMs,
            killGraceMs: spec.timeouts.killGraceMs,
          },
          extraEnv,
          traceparent: spec.traceparent,
          limits: spec.limits,
        },
      },
      forwardingSink(reporter, metrics, sourceHash),
      { signal, logger: deps.logger },
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
    deps.observer?.attemptDone(metrics.arrowBytes);
  }
}
