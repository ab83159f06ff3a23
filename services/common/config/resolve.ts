/**
 * Where a setting's value comes from: a flag, else its CASPARIAN_* variable,
 * else the config file (the service's section, then the top level), else its
 * default. An empty flag or variable counts as unset. Flags and variables
 * are validated when read, the file when loaded (file.ts).
 */
import { parseValue } from './kinds';
import { loadConfigFile, sectionOf, type ConfigFile } from './file';
import { SETTINGS, type Key, type Service, type Setting, type ValueOf } from './settings';
import type { Env, Flags } from './types';

export type Origin = 'flag' | 'env' | 'file' | 'default';

/** Everything a service's settings are read from, the file loaded once. */
export interface Sources {
  flags: Flags;
  env: Env;
  service: Service;
  file?: ConfigFile;
}

export interface Resolved<T> {
  /** undefined: unset (a setting without a default). */
  value: T | undefined;
  origin: Origin;
  /** The flag, variable or `file:line` that set it; undefined for a default. */
  via?: string;
  /** The setting as the user gave it, for messages: `--port (CASPARIAN_PORT)`, `config file x.yaml:3: port`. */
  label: string;
}

/** The config file's name: --config, else CASPARIAN_CONFIG; undefined = none. */
export function configFileName(flags: Flags, env: Env): string | undefined {
  const f = flags.config;
  return (typeof f === 'string' && f !== '' ? f : undefined) ?? (env.CASPARIAN_CONFIG || undefined);
}

export function openSources(flags: Flags, env: Env, service: Service): Sources {
  const name = configFileName(flags, env);
  return { flags, env, service, file: name === undefined ? undefined : loadConfigFile(name) };
}

/** `--flag (VAR)`, with whichever of the two the user gave first. */
function names(s: Setting<unknown>, first: 'flag' | 'env'): string {
  const flag = s.flag && `--${s.flag}`;
  const parts = first === 'flag' ? [flag, s.env] : [s.env, flag];
  const [a, b] = parts.filter(Boolean);
  return b ? `${a} (${b})` : a!;
}

export function resolve<K extends Key>(src: Sources, key: K): Resolved<ValueOf<K>> {
  const s = SETTINGS[key] as Setting<ValueOf<K>>;
  if (!s.services.includes(src.service)) throw new Error(`${key} is not declared as read by the ${src.service} (config/settings.ts)`);
  const fromFlag = s.flag === undefined ? undefined : src.flags[s.flag];
  if (fromFlag !== undefined && fromFlag !== '') {
    const label = names(s as Setting<unknown>, 'flag');
    return { value: parseValue(s.kind, fromFlag, label), origin: 'flag', via: `--${s.flag}`, label };
  }
  const fromEnv = s.env === undefined ? undefined : src.env[s.env];
  if (fromEnv !== undefined && fromEnv !== '') {
    const label = names(s as Setting<unknown>, 'env');
    return { value: parseValue(s.kind, fromEnv, label), origin: 'env', via: s.env, label };
  }
  const section = sectionOf(src.service);
  const inFile = (section && src.file?.sections[section].get(key)) || src.file?.top.get(key);
  if (inFile) return { value: inFile.value as ValueOf<K>, origin: 'file', via: inFile.at, label: inFile.label };
  const d = s.default;
  const value = typeof d === 'function' ? (d as (service: Service) => ValueOf<K> | undefined)(src.service) : d;
  return { value, origin: 'default', label: names(s as Setting<unknown>, s.flag ? 'flag' : 'env') };
}
