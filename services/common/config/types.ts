/**
 * The compiled configuration's types and fixed defaults: what constructors
 * receive. How each value is read and validated is in settings.ts (the
 * declaration table) and compile.ts.
 */
import type { TlsMaterial } from '../tls-material';
import type { Isolation } from '../isolation';
import type { TrustPolicy } from '../signing/trust';

/** Flags as the CLI parsed them: `--data-dir X` is `{ 'data-dir': 'X' }`, a boolean flag is `true`. */
export type Flags = Record<string, string | boolean | undefined>;
export type Env = Record<string, string | undefined>;

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

export interface HttpEndpoint {
  host: string;
  /** 0 = any free port. */
  port: number;
  /** When `port` is taken, take any free one instead of failing (`casparian start`'s default port). */
  anyPortIfBusy?: boolean;
}

export interface SentinelConfig {
  metrics: MetricsEndpoint;
  /** The web console and HTTP/JSON API (--http-port); undefined = off. */
  http?: HttpEndpoint;
  dataDir: string;
  /** The store (--db): `sqlite:ABSOLUTE-PATH` or a `postgres://` URL (services/sentinel/db/open-database.ts). */
  db: string;
  /** PostgreSQL pool size per Sentinel (--db-pool-size). */
  dbPoolSize: number;
  /** The directory holding `outputs/` and `staging/` (--output-root; default the data dir). */
  outputRoot: string;
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
  /** Directories absolute sink targets must lie in (--sink-root, CASPARIAN_SINK_ROOTS); relative ones go under `${dataDir}/sinks`. */
  sinkRoots: string[];
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
  /** The Sentinel's addresses (--sentinel), tried in turn (services/common/sentinel-targets.ts); at least one. */
  sentinels: string[];
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
  /** A Dispatch stream not welcomed this long after it was opened is given up for the next address. */
  welcomeTimeoutMs: number;
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

export interface AuthSettings {
  /** The tokens file (hashes by role), re-read when it changes. */
  tokensFile: string;
  /** Subject CNs of client certificates that may act as workers without a token (needs --require-client-cert). */
  workerCertNames: string[];
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

/** Fork servers per worker by default: each holds an interpreter with pyarrow (~100 MB resident, mostly shared with its children). */
export const DEFAULT_FORK_SERVERS = 4;
