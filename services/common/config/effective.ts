/**
 * The effective configuration of a service, for `casparian config print`:
 * every setting it reads, its value and where the value came from, secrets
 * redacted. It compiles the service's config first, so everything that would
 * stop the service at startup (a bad value, a missing PEM or tokens file,
 * settings that contradict each other) throws the same ConfigError here.
 */
import * as path from 'node:path';
import { redactUrlCredentials } from '../redact';
import { resolveTls } from '../tls';
import { compileSentinelConfig, compileWorkerConfig } from './compile';
import { openSources, resolve, type Origin } from './resolve';
import { KEYS, SETTINGS, type Key, type Service, type Setting } from './settings';
import type { Env, Flags } from './types';

export interface EffectiveSetting {
  /** null: unset. Secrets are "[redacted]"; credentials in URLs are `***`. */
  value: unknown;
  from: Origin;
  /** The flag, variable or `file:line` it came from. */
  via?: string;
}

export const REDACTED = '[redacted]';

export function redactSetting(key: Key, value: unknown): unknown {
  if (value === undefined || value === null) return null;
  const secret = (SETTINGS[key] as Setting<unknown>).secret;
  if (secret === 'value') return REDACTED;
  if (secret === 'url') return redactUrlCredentials(String(value));
  return value;
}

export function effectiveConfig(flags: Flags, env: Env, service: Service): Record<string, EffectiveSetting> {
  if (service === 'sentinel') compileSentinelConfig(flags, env);
  else if (service === 'worker') compileWorkerConfig(flags, env);
  const src = openSources(flags, env, service);
  if (service === 'client') resolveTls(src);
  const out: Record<string, EffectiveSetting> = {};
  for (const key of KEYS) {
    const setting = SETTINGS[key] as Setting<unknown>;
    if (!setting.services.includes(service)) continue;
    const r = resolve(src, key);
    let value = r.value;
    if (setting.kind.paths && value !== undefined) value = Array.isArray(value) ? value.map((p: string) => path.resolve(p)) : path.resolve(value as string);
    out[key] = { value: redactSetting(key, value), from: r.origin, ...(r.via ? { via: r.via } : {}) };
  }
  return out;
}
