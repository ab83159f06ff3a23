/**
 * A plugin version's manifest: what its publisher may set (env allow-list,
 * timeouts, attempts, rlimits, retry backoff, concurrency cap), validated
 * once at publish time, stored as canonical JSON (part of the artifact hash),
 * and combined with a job request and the Sentinel's defaults into a job's
 * settings.
 *
 * Inputs are plain shapes (the generated proto messages fit them), so this
 * module does not depend on the rpc layer.
 */
import type { BackoffPolicy } from '../../common/config';
import { ISOLATION_LEVELS, isIsolation, type IsolationChoice } from '../../common/isolation';
import { invalidArgument } from '../../common/rpc-error';
import { boundedInt } from '../../common/validate';
import type { JobTimeouts } from '../queue/types';

export interface PluginManifestData {
  description: string;
  envAllow: string[];
  timeouts: JobTimeouts;
  maxAttempts: number;
  /** setrlimit caps for the plugin process; 0 = none. */
  limits: { memoryMb: number; cpuSeconds: number; openFiles: number };
  /** Retry backoff overrides for the plugin's jobs; 0 = inherit the Sentinel's. */
  backoff: BackoffOverride;
  /** How workers start the plugin's guest; '' = each worker's default (services/common/isolation.ts). */
  isolation: IsolationChoice;
  /**
   * Most attempts of the plugin (every version of its name) running at once
   * across all workers; 0 = no cap. The newest published version's value is
   * the plugin's cap (scheduler/concurrency-caps.ts).
   */
  maxConcurrency: number;
}

/** A backoff override; a zero field inherits. */
export interface BackoffOverride {
  initialMs: number;
  multiplier: number;
  maxMs: number;
}

/** What a publisher sends; every field optional, zero = unset. */
export interface ManifestInput {
  description?: string;
  envAllow?: string[];
  timeouts?: Partial<JobTimeouts>;
  maxAttempts?: number;
  limits?: Partial<PluginManifestData['limits']>;
  backoff?: Partial<BackoffOverride>;
  isolation?: string;
  maxConcurrency?: number;
}

export const INHERIT_BACKOFF: Readonly<BackoffOverride> = Object.freeze({ initialMs: 0, multiplier: 0, maxMs: 0 });
export const NO_LIMITS = Object.freeze({ memoryMb: 0, cpuSeconds: 0, openFiles: 0 });

const MAX_TIMEOUT_MS = 7 * 24 * 3600 * 1000;
const MAX_BACKOFF_MS = 24 * 3600 * 1000;
const MAX_ATTEMPTS = 100;
export const MAX_CONCURRENCY_CAP = 10_000;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TIMEOUT_FIELDS = {
  guestConnectMs: 'guest_connect_ms',
  idleMs: 'idle_ms',
  startToCloseMs: 'start_to_close_ms',
  killGraceMs: 'kill_grace_ms',
  scheduleToStartMs: 'schedule_to_start_ms',
} as const satisfies Record<keyof JobTimeouts, string>;

/** A backoff override from a request or manifest: zero fields inherit; others must be sane. */
export function compileBackoff(field: string, b: Partial<BackoffOverride> | undefined): BackoffOverride {
  const multiplier = b?.multiplier ?? 0;
  if (multiplier !== 0 && !(multiplier >= 1 && multiplier <= 10)) throw invalidArgument(`${field}.multiplier must be between 1 and 10 (or 0 to inherit), got ${multiplier}`);
  return {
    initialMs: boundedInt(`${field}.initial_ms`, b?.initialMs ?? 0, MAX_BACKOFF_MS),
    multiplier,
    maxMs: boundedInt(`${field}.max_ms`, b?.maxMs ?? 0, MAX_BACKOFF_MS),
  };
}

/** The non-zero fields of a backoff override, as stored on a job. */
export function backoffOverrides(b: BackoffOverride): Partial<BackoffPolicy> {
  return Object.fromEntries(Object.entries(b).filter(([, v]) => v > 0));
}

function compileTimeouts(field: string, t: Partial<JobTimeouts> | undefined): JobTimeouts {
  const out = {} as JobTimeouts;
  for (const [key, name] of Object.entries(TIMEOUT_FIELDS) as [keyof JobTimeouts, string][]) {
    out[key] = boundedInt(`${field}.${name}`, t?.[key] ?? 0, MAX_TIMEOUT_MS);
  }
  return out;
}

/** Validate a published manifest; errors name the field (`manifest.timeouts.idle_ms`). */
export function compileManifest(m: ManifestInput | undefined): PluginManifestData {
  for (const v of m?.envAllow ?? []) {
    if (!ENV_NAME_RE.test(v)) throw invalidArgument(`manifest.env_allow entry "${v.slice(0, 80)}" is not a variable name`);
  }
  return {
    description: m?.description ?? '',
    envAllow: m?.envAllow ?? [],
    timeouts: compileTimeouts('manifest.timeouts', m?.timeouts),
    maxAttempts: boundedInt('manifest.max_attempts', m?.maxAttempts ?? 0, MAX_ATTEMPTS),
    limits: {
      memoryMb: boundedInt('manifest.limits.memory_mb', m?.limits?.memoryMb ?? 0, 1024 * 1024),
      cpuSeconds: boundedInt('manifest.limits.cpu_seconds', m?.limits?.cpuSeconds ?? 0, 7 * 24 * 3600),
      openFiles: boundedInt('manifest.limits.open_files', m?.limits?.openFiles ?? 0, 1024 * 1024),
    },
    backoff: compileBackoff('manifest.backoff', m?.backoff),
    isolation: compileIsolation(m?.isolation),
    maxConcurrency: boundedInt('manifest.max_concurrency', m?.maxConcurrency ?? 0, MAX_CONCURRENCY_CAP),
  };
}

function compileIsolation(value: string | undefined): IsolationChoice {
  if (value === undefined || value === '') return '';
  if (!isIsolation(value)) {
    throw invalidArgument(`manifest.isolation must be one of ${ISOLATION_LEVELS.map((l) => `"${l}"`).join(', ')} or empty (the worker's default), got "${value.slice(0, 40)}"`);
  }
  return value;
}

/** Canonical JSON of a manifest (fixed key order), the form that is hashed and stored. */
export function canonicalManifest(m: PluginManifestData): string {
  return JSON.stringify({
    description: m.description,
    envAllow: [...m.envAllow],
    timeouts: {
      guestConnectMs: m.timeouts.guestConnectMs,
      idleMs: m.timeouts.idleMs,
      startToCloseMs: m.timeouts.startToCloseMs,
      killGraceMs: m.timeouts.killGraceMs,
      scheduleToStartMs: m.timeouts.scheduleToStartMs,
    },
    maxAttempts: m.maxAttempts,
    limits: { memoryMb: m.limits.memoryMb, cpuSeconds: m.limits.cpuSeconds, openFiles: m.limits.openFiles },
    // Only when set, so manifests without a backoff keep their artifact hash.
    ...(Object.keys(backoffOverrides(m.backoff)).length
      ? { backoff: { initialMs: m.backoff.initialMs, multiplier: m.backoff.multiplier, maxMs: m.backoff.maxMs } }
      : {}),
    ...(m.isolation ? { isolation: m.isolation } : {}),
    ...(m.maxConcurrency ? { maxConcurrency: m.maxConcurrency } : {}),
  });
}

/** A stored manifest; fields added after a version was published get their defaults. */
export function parseManifest(row: { manifest_json: string }): PluginManifestData {
  const m = JSON.parse(row.manifest_json) as PluginManifestData;
  return { ...m, limits: m.limits ?? { ...NO_LIMITS }, backoff: m.backoff ?? { ...INHERIT_BACKOFF }, isolation: m.isolation ?? '', maxConcurrency: m.maxConcurrency ?? 0, timeouts: { ...m.timeouts, scheduleToStartMs: m.timeouts.scheduleToStartMs ?? 0 } };
}

/** What a job request may override. */
export interface JobRequestSettings {
  maxAttempts?: number;
  timeouts?: Partial<JobTimeouts>;
  backoff?: Partial<BackoffOverride>;
}

/**
 * A job's settings: each field from the request when set, else the plugin
 * manifest's, else the Sentinel's default. Request fields are validated here.
 */
export function jobSettings(
  req: JobRequestSettings,
  manifest: PluginManifestData,
  defaults: { maxAttempts: number; timeouts: JobTimeouts },
): { maxAttempts: number; timeouts: JobTimeouts; backoff: Partial<BackoffPolicy> } {
  const maxAttempts = boundedInt('max_attempts', req.maxAttempts ?? 0, MAX_ATTEMPTS);
  const requested = compileTimeouts('timeouts', req.timeouts);
  const timeouts = {} as JobTimeouts;
  for (const key of Object.keys(TIMEOUT_FIELDS) as (keyof JobTimeouts)[]) {
    timeouts[key] = requested[key] || manifest.timeouts[key] || defaults.timeouts[key];
  }
  return {
    maxAttempts: maxAttempts || manifest.maxAttempts || defaults.maxAttempts,
    timeouts,
    backoff: { ...backoffOverrides(manifest.backoff), ...backoffOverrides(compileBackoff('backoff', req.backoff)) },
  };
}
