/**
 * Configuration is compiled once: the settings (settings.ts) are read from
 * flags, CASPARIAN_* variables and the config file, validated, checked
 * against each other, and handed to constructors as frozen typed objects.
 * Nothing else reads process.env.
 */
import * as path from 'node:path';
import { ConfigError } from '../config-error';
import type { LogLevel, Logger } from '../logger';
import { Logger as LoggerImpl } from '../logger';
import { checkPlaintext, isLoopback, resolveTls } from '../tls';
import type { TlsMaterial } from '../tls-material';
import { readTokensFile } from '../auth/tokens';
import { readTrustedKeys } from '../signing/trust';
import { parseStoreTarget, type StoreTarget } from '../store-target';
import { openSources, resolve, type Sources } from './resolve';
import type { Key, Service, ValueOf } from './settings';
import { DEFAULT_BACKOFF, DEFAULT_TIMEOUTS } from './types';
import type { AuthSettings, CommitWriterSettings, Env, Flags, HttpEndpoint, MetricsEndpoint, SentinelConfig, WorkerConfig } from './types';

/** A setting's value; undefined only for settings without a default. */
function get<K extends Key>(src: Sources, key: K): ValueOf<K> {
  return resolve(src, key).value as ValueOf<K>;
}

function compileMetrics(src: Sources): MetricsEndpoint {
  return { port: get(src, 'metricsPort'), host: get(src, 'metricsHost') };
}

function compileHttp(src: Sources, defaultPort: number | undefined): HttpEndpoint | undefined {
  const port = get(src, 'httpPort');
  if (port !== undefined) return { port, host: get(src, 'httpHost') };
  return defaultPort === undefined ? undefined : { port: defaultPort, host: get(src, 'httpHost'), anyPortIfBusy: true };
}

function compileCommitWriter(src: Sources): CommitWriterSettings {
  return {
    mode: get(src, 'commitWriter'),
    home: path.resolve(get(src, 'home')),
    basePython: get(src, 'python'),
    indexUrl: get(src, 'indexUrl'),
    installTimeoutMs: 1000 * get(src, 'installTimeout'),
  };
}

function compileAuth(src: Sources): AuthSettings | undefined {
  const file = get(src, 'tokensFile');
  const names = get(src, 'workerCertNames');
  if (!file) {
    if (names.length) throw new ConfigError('--worker-cert-names (CASPARIAN_WORKER_CERT_NAMES) needs --tokens-file: it admits workers where tokens are required');
    return undefined;
  }
  const tokensFile = path.resolve(file);
  readTokensFile(tokensFile); // fail at startup, naming the file or the line
  return { tokensFile, workerCertNames: names };
}

/** The `--db` value, checked, with a SQLite path made absolute; default `sqlite:{dataDir}/sentinel.db`. */
function compileStore(value: string | undefined, dataDir: string): string {
  if (!value) return `sqlite:${path.join(dataDir, 'sentinel.db')}`;
  let t: StoreTarget;
  try {
    t = parseStoreTarget(value);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  return t.kind === 'sqlite' ? `sqlite:${t.file === ':memory:' ? t.file : path.resolve(t.file)}` : t.url;
}

/**
 * `defaultHttpPort`: the HTTP port when no flag, variable or file sets one
 * (`casparian start` serves its console by default; if that port is taken,
 * any free one). Without it the HTTP port is off unless set.
 */
export function compileSentinelConfig(flags: Flags, env: Env, overrides: Partial<SentinelConfig> = {}, defaultHttpPort?: number): Readonly<SentinelConfig> {
  const src = openSources(flags, env, 'sentinel');
  const cfg: SentinelConfig = {
    metrics: compileMetrics(src),
    http: compileHttp(src, defaultHttpPort),
    dataDir: path.resolve(get(src, 'dataDir')),
    db: compileStore(get(src, 'db'), path.resolve(get(src, 'dataDir'))),
    dbPoolSize: get(src, 'dbPoolSize'),
    outputRoot: path.resolve(get(src, 'outputRoot') ?? get(src, 'dataDir')),
    host: get(src, 'host'),
    port: get(src, 'port'),
    tls: resolveTls(src),
    allowInsecure: get(src, 'insecure'),
    auth: compileAuth(src),
    leaseMs: get(src, 'leaseMs'),
    heartbeatIntervalMs: get(src, 'heartbeatMs'),
    defaultMaxAttempts: get(src, 'maxAttempts'),
    breakerThreshold: get(src, 'breakerThreshold'),
    timeouts: { ...DEFAULT_TIMEOUTS, scheduleToStartMs: get(src, 'scheduleToStartMs') },
    backoff: { ...DEFAULT_BACKOFF },
    tickMs: 1_000,
    inputRoots: get(src, 'inputRoot'),
    keepaliveMs: get(src, 'keepaliveMs'),
    keepaliveTimeoutMs: get(src, 'keepaliveTimeoutMs'),
    watchQueueMax: get(src, 'watchQueueMax'),
    connectionAge: { maxAgeMs: get(src, 'maxConnectionAgeMs'), graceMs: get(src, 'maxConnectionAgeGraceMs') },
    retainSeconds: get(src, 'retainSeconds'),
    sinkRoots: get(src, 'sinkRoot').map((r) => path.resolve(r)),
    retentionEveryMs: get(src, 'retentionEveryMs'),
    minFreeBytes: get(src, 'minFreeBytes'),
    maxOutputBytes: get(src, 'maxOutputBytes'),
    maxLogBytes: get(src, 'maxLogBytes'),
    maxConcurrentStreams: get(src, 'maxConcurrentStreams'),
    commitWriter: compileCommitWriter(src),
    ...overrides,
  };
  cfg.inputRoots = cfg.inputRoots.map((r) => path.resolve(r));
  checkExposure(cfg, `the Sentinel (--host ${cfg.host})`);
  if (cfg.heartbeatIntervalMs * 2 > cfg.leaseMs) {
    throw new ConfigError(`lease (${cfg.leaseMs} ms) must be at least twice the heartbeat interval (${cfg.heartbeatIntervalMs} ms)`);
  }
  return Object.freeze(cfg);
}

export function compileWorkerConfig(flags: Flags, env: Env, overrides: Partial<WorkerConfig> = {}): Readonly<WorkerConfig> {
  const src = openSources(flags, env, 'worker');
  const cfg: WorkerConfig = {
    metrics: compileMetrics(src),
    sentinels: get(src, 'sentinelAddress'),
    workerId: get(src, 'workerId'),
    slots: get(src, 'slots'),
    envMode: get(src, 'envMode'),
    home: path.resolve(get(src, 'home')),
    host: get(src, 'workerHost'),
    port: get(src, 'workerPort'),
    tls: resolveTls(src),
    allowInsecure: get(src, 'insecure'),
    auth: compileAuth(src),
    token: get(src, 'token'),
    installEnvAllow: get(src, 'installEnvAllow'),
    guestEnvAllow: get(src, 'guestEnvAllow'),
    inputRoots: get(src, 'inputRoot')?.map((r) => path.resolve(r)),
    basePython: get(src, 'python'),
    indexUrl: get(src, 'indexUrl'),
    installTimeoutMs: 1000 * get(src, 'installTimeout'),
    reconnectMaxMs: 5_000,
    welcomeTimeoutMs: 20_000,
    envMaxBytes: get(src, 'envMaxBytes'),
    envMaxCount: get(src, 'envMaxCount'),
    isolation: get(src, 'isolation'),
    forkServers: get(src, 'forkServers'),
    trust: Object.freeze({
      keys: readTrustedKeys((get(src, 'trustedKeys') ?? []).map((p) => path.resolve(p)), '--trusted-keys (CASPARIAN_TRUSTED_KEYS)'),
      allowUnsigned: get(src, 'allowUnsigned'),
    }),
    ...overrides,
  };
  if (cfg.port >= 0) checkExposure(cfg, `the worker's server (--worker-port)`);
  return Object.freeze(cfg);
}

/**
 * A server that other hosts can reach needs TLS, and someone must prove who
 * they are (tokens, or client certificates) — unless --insecure says otherwise.
 */
function checkExposure(cfg: { tls?: Readonly<TlsMaterial>; auth?: Readonly<AuthSettings>; host: string; allowInsecure: boolean }, what: string): void {
  checkPlaintext(cfg.tls, cfg.host, cfg.allowInsecure, what);
  if (cfg.auth?.workerCertNames.length && !cfg.tls?.requireClientCert) {
    throw new ConfigError('--worker-cert-names (CASPARIAN_WORKER_CERT_NAMES) needs --require-client-cert: only certificates verified at the handshake may stand in for a token');
  }
  if (isLoopback(cfg.host) || cfg.allowInsecure || cfg.auth || cfg.tls?.requireClientCert) return;
  throw new ConfigError(
    `${what} would take calls from other hosts without asking who they are: give it --tokens-file FILE or ` +
      `--require-client-cert, or pass --insecure (CASPARIAN_INSECURE=1) to run it open anyway`,
  );
}

/** The logger of a service (its config file section applies) or of a CLI command (the file's top level). */
export function compileLogger(flags: Flags, env: Env, fields: Record<string, unknown>, service: Service = 'client'): Logger {
  const src = openSources(flags, env, service);
  const level: LogLevel = get(src, 'logLevel');
  const fmt = get(src, 'logFormat');
  const format = fmt === 'json' || (fmt === 'auto' && !process.stderr.isTTY) ? 'json' : 'text';
  return new LoggerImpl({ level, format }, fields);
}

/** Where a client finds the Sentinel, one address or more: --sentinel, else CASPARIAN_SENTINEL, else the config file, else the default. */
export function sentinelAddresses(flags: Flags, env: Env): string[] {
  return get(openSources(flags, env, 'client'), 'sentinelAddress');
}

/** A client's token: --token, else CASPARIAN_TOKEN, else the config file. */
export function compileToken(flags: Flags, env: Env): string | undefined {
  return get(openSources(flags, env, 'client'), 'token');
}

/** How long a CLI command waits for each call: --timeout, else CASPARIAN_CLIENT_TIMEOUT, … (seconds, default 30). */
export function clientTimeoutMs(flags: Flags, env: Env): number {
  return 1000 * get(openSources(flags, env, 'client'), 'timeout');
}

/** Where environments live: CASPARIAN_HOME, else the config file, else ~/.casparian_flow. */
export function defaultHome(env: Env): string {
  return get(openSources({}, env, 'worker'), 'home');
}
