/** Conversions between generated proto types and the worker's domain types. */
import { VerdictStatus, type JobDispatch } from '../../gen/casparian/v1/dispatch';
import type { EnvInfo as PbEnvInfo, Timeouts } from '../../gen/casparian/v1/types';
import type { AttemptResult, AttemptSpec } from '../attempt/types';
import type { EnvInfo } from '../envs/types';
import { DEFAULT_TIMEOUTS } from '../../common/config';
import { isIsolation } from '../../common/isolation';
import { parseTraceparent } from '../../common/trace-context';

export function envToPb(e: EnvInfo): PbEnvInfo {
  return {
    envHash: e.envHash,
    status: e.status,
    backend: e.backend,
    pythonVersion: e.pythonVersion ?? '',
    sizeBytes: e.sizeBytes ?? 0,
    problem: e.problem ?? '',
  };
}

export function verdictStatus(s: AttemptResult['status']): VerdictStatus {
  return s === 'succeeded'
    ? VerdictStatus.VERDICT_STATUS_SUCCEEDED
    : s === 'cancelled'
      ? VerdictStatus.VERDICT_STATUS_CANCELLED
      : VerdictStatus.VERDICT_STATUS_FAILED;
}

export function timeoutsFromPb(t: Timeouts | undefined): AttemptSpec['timeouts'] {
  return {
    guestConnectMs: t?.guestConnectMs || DEFAULT_TIMEOUTS.guestConnectMs,
    idleMs: t?.idleMs || DEFAULT_TIMEOUTS.idleMs,
    startToCloseMs: t?.startToCloseMs || DEFAULT_TIMEOUTS.startToCloseMs,
    killGraceMs: t?.killGraceMs || DEFAULT_TIMEOUTS.killGraceMs,
  };
}

/** The dispatch's traceparent if it is a valid one (a Sentinel sends only those; a guest's environment gets nothing else). */
function validTraceparent(value: string): string | undefined {
  const parsed = value ? parseTraceparent(value) : undefined;
  return parsed?.ok ? parsed.trace.traceparent : undefined;
}

export function attemptSpecFromDispatch(d: JobDispatch): AttemptSpec {
  return {
    jobId: d.jobId,
    attempt: d.attempt,
    pluginName: d.pluginName,
    pluginVersion: d.pluginVersion,
    source: d.source,
    envHash: d.envHash,
    lockfile: d.lockfile,
    inputPath: d.inputPath,
    timeouts: timeoutsFromPb(d.timeouts),
    envAllow: d.envAllow,
    limits: { memoryMb: d.limits?.memoryMb ?? 0, cpuSeconds: d.limits?.cpuSeconds ?? 0, openFiles: d.limits?.openFiles ?? 0 },
    // A level this worker does not know (a newer Sentinel's) runs at the worker's default.
    isolation: isIsolation(d.isolation) ? d.isolation : '',
    traceparent: validTraceparent(d.traceparent),
    artifact: { artifactHash: d.artifactHash, manifestJson: d.manifestJson, signature: d.signature, signingKeyId: d.signingKeyId },
  };
}
