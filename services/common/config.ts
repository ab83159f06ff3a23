/**
 * Configuration is compiled once: flags and environment variables are read
 * here, validated, and handed to constructors as frozen typed objects. Nothing
 * else reads process.env.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from './config-error';
import { DEFAULT_ISOLATION, ISOLATION_LEVELS, isIsolation, type Isolation } from './isolation';
import type { LogLevel, Logger } from './logger';
import { Logger as LoggerImpl } from './logger';
import { checkPlaintext, compileTls, insecureAllowed, isLoopback, type TlsMaterial } from './tls';
import { readTokensFile } from './auth/tokens';
import { readTrustedKeys, type TrustPolicy } from './signing/trust';

export interface TimeoutDefaults {
  guestConnectMs: number;
  idleMs: number;
  startToCloseMs: number;
  killGraceMs: number;
  /** 0 = off. */
  scheduleToStartMs: number;
}

/**
 * Server-side keepalive: the server pings each client connection every
 * `timeMs` and drops it when a ping gets no answer within `timeoutMs`, so a
 * peer that is frozen or cut off (no FIN, no RST) loses its streams instead of
 * holding them open.
 */
export interface Keepalive {
  timeMs: number;
  timeoutMs: number;
}

export const DEFAULT_KEEPALIVE: Readonly<Keepalive> = Object.freeze({ timeMs: 10_000, timeoutMs: 5_000 });

/**
 * Connection age: the server asks a client to reconnect (GOAWAY) once its
 * connection is `maxAgeMs` old, and closes it `graceMs` later, so that load
 * balancers in a service mesh can move clients between replicas. 0 = never.
 */
export interface ConnectionAge {
  maxAgeMs: number;
  graceMs: number;
}

export interface BackoffPolicy {
  initialMs: number;
  multiplier: number;
  maxMs: number;
  /** Fraction of the delay randomised, 0..1. */
  jitter: number;
}

export type CommitWriterMode = 'auto' | 'pyarrow' | 'wasm';

/**
 * How the Sentinel turns outputs into Parquet (services/sentinel/sinks/writer-setup.ts):
 * a pyarrow helper process in an env it provisions like a worker does, or
 * parquet-wasm in a worker thread.
 */
export interface CommitWriterSettings {
  /** auto: pyarrow when its env can be had, else wasm; pyarrow: required; wasm: never Python. */
  mode: CommitWriterMode;
  /** CASPARIAN_HOME: the helper's env lives in `${home}/venvs`, beside the worker's. */
  home: string;
  basePython: string;
  indexUrl?: string;
  installTimeoutMs: number;
}

/** Where /metrics is served (--metrics-port, --metrics-host); no port = not served. */
export interface MetricsEndpoint {
  port?: number;
  host: string;
}

function compileMetrics(flags: Flags, env: Env): MetricsEndpoint {
  const raw = str(flags, 'metrics-port') ?? env.CASPARIAN_METRICS_PORT;
  return {
    port: raw === undefined || raw === '' ? undefined : int(raw, '--metrics-port (CASPARIAN_METRICS_PORT)', 0, 0),
    host: str(flags, 'metrics-host') ?? env.CASPARIAN_METRICS_HOST ?? '127.0.0.1',
  };
}

export interface SentinelConfig {
  metrics: MetricsEndpoint;
  dataDir: string;
  host: string;
  port: number;
  /** TLS for the server (services/common/tls.ts); undefined = plaintext, allowed off loopback only with allowInsecure. */
  tls?: Readonly<TlsMaterial>;
  allowInsecure: boolean;
  /** Tokens by role (services/common/auth); undefined = no token needed. */
  auth?: Readonly<AuthSettings>;
  leaseMs: number;
  heartbeatIntervalMs: number;
  defaultMaxAttempts: number;
  /**
   * Circuit breaker: a plugin version is paused after this many consecutive
   * failed attempts (cancelled and worker_lost do not count). 0 = never.
   */
  breakerThreshold: number;
  timeouts: TimeoutDefaults;
  backoff: BackoffPolicy;
  /** How often expired leases are reclaimed and delayed retries become runnable. */
  tickMs: number;
  /**
   * Directories job inputs must lie in (SubmitJob gives PERMISSION_DENIED
   * otherwise). Default: the Sentinel's working directory. "/" allows all.
   */
  inputRoots: string[];
  /** Server keepalive: a client (worker) that answers no ping within keepaliveTimeoutMs is dropped. */
  keepaliveMs: number;
  keepaliveTimeoutMs: number;
  /** Events one WatchJob may fall behind by before it ends with RESOURCE_EXHAUSTED (a slow watcher cannot grow memory without bound). */
  watchQueueMax: number;
  /** CASPARIAN_MAX_CONNECTION_AGE_MS / CASPARIAN_MAX_CONNECTION_AGE_GRACE_MS; 0 = connections live until closed. */
  connectionAge: ConnectionAge;
  /** Automatic retention: finished jobs older than this many seconds are purged (--retain-seconds, CASPARIAN_RETAIN_SECONDS; 0 = off), checked every retentionEveryMs. */
  retainSeconds: number;
  retentionEveryMs: number;
  /** Free bytes the data dir must keep; below, nothing is dispatched (--min-free-bytes, CASPARIAN_MIN_FREE_BYTES; 0 = off). */
  minFreeBytes: number;
  /** Arrow bytes one attempt may send; more fails it as INVALID_OUTPUT (CASPARIAN_MAX_OUTPUT_BYTES, default 50 GiB). */
  maxOutputBytes: number;
  /** Log bytes kept per attempt; later lines are dropped after one note saying so (CASPARIAN_MAX_LOG_BYTES, default 10 MiB). */
  maxLogBytes: number;
  /** HTTP/2 streams one connection may have open at once (CASPARIAN_MAX_CONCURRENT_STREAMS, default 1000). */
  maxConcurrentStreams: number;
  commitWriter: CommitWriterSettings;
}

export type EnvMode = 'auto' | 'strict';

export interface WorkerConfig {
  metrics: MetricsEndpoint;
  sentinel: string;
  workerId: string;
  slots: number;
  envMode: EnvMode;
  home: string;
  host: string;
  /** Port of the worker's own gRPC service (Run, health, reflection); 0 = any free port; -1 = no server. */
  port: number;
  /** TLS for the worker's server and for its link to the Sentinel (its cert is the client certificate there). */
  tls?: Readonly<TlsMaterial>;
  allowInsecure: boolean;
  /** Tokens that may call this worker's own server (Run needs a client token); undefined = none needed. */
  auth?: Readonly<AuthSettings>;
  /** The worker token this worker sends to the Sentinel (--token, CASPARIAN_TOKEN). */
  token?: string;
  /** Host variables pip/uv installs may see besides the base set (--install-env-allow, CASPARIAN_INSTALL_ENV_ALLOW). */
  installEnvAllow: string[];
  /** Directories inputs must resolve into, symlinks followed (--input-root, CASPARIAN_INPUT_ROOTS); unset = any. */
  inputRoots?: string[];
  /** The only host variables a plugin's env_allow may name (--guest-env-allow, CASPARIAN_GUEST_ENV_ALLOW); default none. */
  guestEnvAllow: string[];
  basePython: string;
  indexUrl?: string;
  installTimeoutMs: number;
  reconnectMaxMs: number;
  /** LRU eviction caps for this host's envs, applied after each new env; envs in use are never evicted. */
  envMaxBytes: number;
  envMaxCount: number;
  /** How guests are started unless a plugin's manifest says otherwise (see services/common/isolation.ts). */
  isolation: Isolation;
  /** Most fork servers (one per env) running at once; the least recently used idle one makes room. */
  forkServers: number;
  /**
   * Plugin signatures (services/common/signing/trust.ts): the public keys of
   * --trusted-keys (CASPARIAN_TRUSTED_KEYS), and --allow-unsigned
   * (CASPARIAN_ALLOW_UNSIGNED=1), the development flag without which unsigned
   * plugins fail as SIGNATURE_REQUIRED.
   */
  trust: Readonly<TrustPolicy>;
}

export type Flags = Record<string, string | boolean | undefined>;
type Env = Record<string, string | undefined>;

export { ConfigError };

function str(flags: Flags, key: string): string | undefined {
  const v = flags[key];
  return typeof v === 'string' ? v : undefined;
}

function int(value: string | undefined, name: string, def: number, min = 0): number {
  if (value === undefined || value === '') return def;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`${name} must be an integer >= ${min}, got "${value}"`);
  return n;
}

export const DEFAULT_TIMEOUTS: TimeoutDefaults = Object.freeze({
  guestConnectMs: 30_000,
  idleMs: 300_000,
  startToCloseMs: 3_600_000,
  killGraceMs: 5_000,
  scheduleToStartMs: 0,
});

/** Consecutive failed attempts of a plugin version before it is paused. */
export const DEFAULT_BREAKER_THRESHOLD = 5;

export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ initialMs: 1_000, multiplier: 2, maxMs: 300_000, jitter: 0.2 });

/** The Sentinel's default port, and the address workers and clients dial by default. */
export const DEFAULT_PORT = 50051;
export const DEFAULT_SENTINEL = `localhost:${DEFAULT_PORT}`;

/** Where a worker or client finds the Sentinel: --sentinel, else CASPARIAN_SENTINEL, else the default. */
export function sentinelAddress(flags: Flags, env: Env): string {
  return str(flags, 'sentinel') ?? env.CASPARIAN_SENTINEL ?? DEFAULT_SENTINEL;
}

export function defaultHome(env: Env): string {
  return env.CASPARIAN_HOME || path.join(os.homedir(), '.casparian_flow');
}

function inputRoots(flags: Flags, env: Env): string[] {
  const raw = str(flags, 'input-root') ?? env.CASPARIAN_INPUT_ROOTS;
  if (!raw) return [process.cwd()];
  return raw.split(path.delimiter).filter(Boolean);
}

function compileCommitWriter(flags: Flags, env: Env): CommitWriterSettings {
  const mode = str(flags, 'commit-writer') ?? env.CASPARIAN_COMMIT_WRITER ?? 'auto';
  if (mode !== 'auto' && mode !== 'pyarrow' && mode !== 'wasm') throw new ConfigError(`--commit-writer must be auto, pyarrow or wasm, got "${mode}"`);
  return {
    mode,
    home: path.resolve(str(flags, 'home') ?? defaultHome(env)),
    basePython: str(flags, 'python') ?? env.CASPARIAN_PYTHON ?? 'python3',
    indexUrl: str(flags, 'index-url') ?? env.CASPARIAN_PIP_INDEX_URL ?? undefined,
    installTimeoutMs: 1000 * int(str(flags, 'install-timeout') ?? env.CASPARIAN_INSTALL_TIMEOUT, '--install-timeout (seconds)', 600, 1),
  };
}

export function compileSentinelConfig(flags: Flags, env: Env, overrides: Partial<SentinelConfig> = {}): Readonly<SentinelConfig> {
  const cfg: SentinelConfig = {
    metrics: compileMetrics(flags, env),
    dataDir: path.resolve(str(flags, 'data-dir') ?? env.CASPARIAN_DATA_DIR ?? '.casparian'),
    host: str(flags, 'host') ?? env.CASPARIAN_HOST ?? '127.0.0.1',
    port: int(str(flags, 'port') ?? env.CASPARIAN_PORT, '--port', DEFAULT_PORT),
    tls: compileTls(flags, env),
    allowInsecure: insecureAllowed(flags, env),
    auth: compileAuth(flags, env),
    leaseMs: int(env.CASPARIAN_LEASE_MS, 'CASPARIAN_LEASE_MS', 30_000, 100),
    heartbeatIntervalMs: int(env.CASPARIAN_HEARTBEAT_MS, 'CASPARIAN_HEARTBEAT_MS', 5_000, 50),
    defaultMaxAttempts: int(env.CASPARIAN_MAX_ATTEMPTS, 'CASPARIAN_MAX_ATTEMPTS', 3, 1),
    breakerThreshold: int(env.CASPARIAN_BREAKER_THRESHOLD, 'CASPARIAN_BREAKER_THRESHOLD', DEFAULT_BREAKER_THRESHOLD, 0),
    timeouts: {
      ...DEFAULT_TIMEOUTS,
      scheduleToStartMs: int(env.CASPARIAN_SCHEDULE_TO_START_MS, 'CASPARIAN_SCHEDULE_TO_START_MS', 0),
    },
    backoff: { ...DEFAULT_BACKOFF },
    tickMs: 1_000,
    inputRoots: inputRoots(flags, env),
    keepaliveMs: int(env.CASPARIAN_KEEPALIVE_MS, 'CASPARIAN_KEEPALIVE_MS', DEFAULT_KEEPALIVE.timeMs, 1_000),
    keepaliveTimeoutMs: int(env.CASPARIAN_KEEPALIVE_TIMEOUT_MS, 'CASPARIAN_KEEPALIVE_TIMEOUT_MS', DEFAULT_KEEPALIVE.timeoutMs, 1_000),
    watchQueueMax: int(env.CASPARIAN_WATCH_QUEUE_MAX, 'CASPARIAN_WATCH_QUEUE_MAX', 10_000, 1),
    connectionAge: {
      maxAgeMs: int(env.CASPARIAN_MAX_CONNECTION_AGE_MS, 'CASPARIAN_MAX_CONNECTION_AGE_MS', 0, 0),
      graceMs: int(env.CASPARIAN_MAX_CONNECTION_AGE_GRACE_MS, 'CASPARIAN_MAX_CONNECTION_AGE_GRACE_MS', 30_000, 0),
    },
    retainSeconds: int(str(flags, 'retain-seconds') ?? env.CASPARIAN_RETAIN_SECONDS, '--retain-seconds', 0, 0),
    retentionEveryMs: int(env.CASPARIAN_RETENTION_EVERY_MS, 'CASPARIAN_RETENTION_EVERY_MS', 3_600_000, 100),
    minFreeBytes: int(str(flags, 'min-free-bytes') ?? env.CASPARIAN_MIN_FREE_BYTES, '--min-free-bytes', 1024 ** 3, 0),
    maxOutputBytes: int(env.CASPARIAN_MAX_OUTPUT_BYTES, 'CASPARIAN_MAX_OUTPUT_BYTES', 50 * 1024 ** 3, 1),
    maxLogBytes: int(env.CASPARIAN_MAX_LOG_BYTES, 'CASPARIAN_MAX_LOG_BYTES', 10 * 1024 ** 2, 1),
    maxConcurrentStreams: int(env.CASPARIAN_MAX_CONCURRENT_STREAMS, 'CASPARIAN_MAX_CONCURRENT_STREAMS', 1_000, 1),
    commitWriter: compileCommitWriter(flags, env),
    ...overrides,
  };
  cfg.inputRoots = cfg.inputRoots.map((r) => path.resolve(r));
  checkExposure(cfg, `the Sentinel (--host ${cfg.host})`);
  if (cfg.heartbeatIntervalMs * 2 > cfg.leaseMs) {
    throw new ConfigError(`lease (${cfg.leaseMs} ms) must be at least twice the heartbeat interval (${cfg.heartbeatIntervalMs} ms)`);
  }
  return Object.freeze(cfg);
}

export interface AuthSettings {
  /** The tokens file (hashes by role), re-read when it changes. */
  tokensFile: string;
  /** Subject CNs of client certificates that may act as workers without a token (needs --require-client-cert). */
  workerCertNames: string[];
}

/** A worker's input roots: only when set (a worker checks nothing unless told to). */
function workerInputRoots(flags: Flags, env: Env): string[] | undefined {
  const raw = str(flags, 'input-root') ?? env.CASPARIAN_INPUT_ROOTS;
  return raw ? raw.split(path.delimiter).filter(Boolean).map((r) => path.resolve(r)) : undefined;
}

/** A comma-separated list of names, blanks dropped. */
function nameList(raw: string | undefined): string[] {
  return (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

function compileAuth(flags: Flags, env: Env): AuthSettings | undefined {
  const file = str(flags, 'tokens-file') ?? env.CASPARIAN_TOKENS_FILE;
  const names = nameList(str(flags, 'worker-cert-names') ?? env.CASPARIAN_WORKER_CERT_NAMES);
  if (!file) {
    if (names.length) throw new ConfigError('--worker-cert-names (CASPARIAN_WORKER_CERT_NAMES) needs --tokens-file: it admits workers where tokens are required');
    return undefined;
  }
  const tokensFile = path.resolve(file);
  readTokensFile(tokensFile); // fail at startup, naming the file or the line
  return { tokensFile, workerCertNames: names };
}

/** A client's or worker's token: --token, else CASPARIAN_TOKEN. */
export function compileToken(flags: Flags, env: Env): string | undefined {
  return str(flags, 'token') ?? (env.CASPARIAN_TOKEN || undefined);
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

/** Fork servers per worker by default: each holds an interpreter with pyarrow (~100 MB resident, mostly shared with its children). */
export const DEFAULT_FORK_SERVERS = 4;

function isolationLevel(value: string | undefined): Isolation {
  if (value === undefined || value === '') return DEFAULT_ISOLATION;
  if (!isIsolation(value)) throw new ConfigError(`--isolation (CASPARIAN_ISOLATION) must be one of ${ISOLATION_LEVELS.join(', ')}; got "${value}"`);
  return value;
}

/** A boolean flag or its variable ("1"/"true" on, ""/"0"/"false" off). */
function boolSetting(flags: Flags, key: string, env: Env, variable: string): boolean {
  if (flags[key] === true) return true;
  const v = (env[variable] ?? '').trim().toLowerCase();
  if (v === '' || v === '0' || v === 'false') return false;
  if (v === '1' || v === 'true') return true;
  throw new ConfigError(`${variable} must be 1 or 0, got "${env[variable]}"`);
}

function compileTrust(flags: Flags, env: Env): TrustPolicy {
  const raw = str(flags, 'trusted-keys') ?? env.CASPARIAN_TRUSTED_KEYS;
  const paths = (raw ?? '').split(path.delimiter).filter(Boolean).map((p) => path.resolve(p));
  return Object.freeze({
    keys: readTrustedKeys(paths, '--trusted-keys (CASPARIAN_TRUSTED_KEYS)'),
    allowUnsigned: boolSetting(flags, 'allow-unsigned', env, 'CASPARIAN_ALLOW_UNSIGNED'),
  });
}

export function compileWorkerConfig(flags: Flags, env: Env, overrides: Partial<WorkerConfig> = {}): Readonly<WorkerConfig> {
  const mode = str(flags, 'env-mode') ?? env.CASPARIAN_ENV_MODE ?? 'auto';
  if (mode !== 'auto' && mode !== 'strict') throw new ConfigError(`--env-mode must be "auto" or "strict", got "${mode}"`);
  const cfg: WorkerConfig = {
    metrics: compileMetrics(flags, env),
    sentinel: sentinelAddress(flags, env),
    workerId: str(flags, 'worker-id') ?? env.CASPARIAN_WORKER_ID ?? `${os.hostname()}-${process.pid}`,
    slots: int(str(flags, 'slots') ?? env.CASPARIAN_SLOTS, '--slots', os.cpus().length || 1, 1),
    envMode: mode,
    home: path.resolve(str(flags, 'home') ?? defaultHome(env)),
    host: str(flags, 'worker-host') ?? '127.0.0.1',
    port: int(str(flags, 'worker-port') ?? env.CASPARIAN_WORKER_PORT, '--worker-port', 0, -1),
    tls: compileTls(flags, env),
    allowInsecure: insecureAllowed(flags, env),
    auth: compileAuth(flags, env),
    token: compileToken(flags, env),
    installEnvAllow: nameList(str(flags, 'install-env-allow') ?? env.CASPARIAN_INSTALL_ENV_ALLOW),
    guestEnvAllow: nameList(str(flags, 'guest-env-allow') ?? env.CASPARIAN_GUEST_ENV_ALLOW),
    inputRoots: workerInputRoots(flags, env),
    basePython: str(flags, 'python') ?? env.CASPARIAN_PYTHON ?? 'python3',
    indexUrl: str(flags, 'index-url') ?? env.CASPARIAN_PIP_INDEX_URL ?? undefined,
    installTimeoutMs: 1000 * int(str(flags, 'install-timeout') ?? env.CASPARIAN_INSTALL_TIMEOUT, '--install-timeout (seconds)', 600, 1),
    reconnectMaxMs: 5_000,
    envMaxBytes: int(str(flags, 'env-max-bytes') ?? env.CASPARIAN_ENV_MAX_BYTES, '--env-max-bytes', 10 * 1024 ** 3, 0),
    envMaxCount: int(str(flags, 'env-max-count') ?? env.CASPARIAN_ENV_MAX_COUNT, '--env-max-count', 50, 1),
    isolation: isolationLevel(str(flags, 'isolation') ?? env.CASPARIAN_ISOLATION),
    forkServers: int(str(flags, 'fork-servers') ?? env.CASPARIAN_FORK_SERVERS, '--fork-servers', DEFAULT_FORK_SERVERS, 1),
    trust: compileTrust(flags, env),
    ...overrides,
  };
  if (cfg.port >= 0) checkExposure(cfg, `the worker's server (--worker-port)`);
  return Object.freeze(cfg);
}

export function compileLogger(flags: Flags, env: Env, fields: Record<string, unknown>): Logger {
  const level = (str(flags, 'log-level') ?? env.CASPARIAN_LOG_LEVEL ?? 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new ConfigError(`--log-level must be debug|info|warn|error`);
  const fmt = env.CASPARIAN_LOG_FORMAT ?? 'auto';
  const format = fmt === 'json' || (fmt === 'auto' && !process.stderr.isTTY) ? 'json' : 'text';
  return new LoggerImpl({ level, format }, fields);
}
