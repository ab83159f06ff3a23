/**
 * Every setting, declared once: its name (also its key in a config file: the
 * flag in camelCase, except `sentinelAddress` for `--sentinel`, as `sentinel:`
 * is the Sentinel's section of a file), its
 * flag and CASPARIAN_* variable, the kind of value it takes, its default,
 * which services read it, whether it is a secret, and one line for the docs.
 * compile.ts turns them into SentinelConfig/WorkerConfig; docs/operations.md's
 * table is generated from this one (tools/config-docs.ts), and a unit test
 * keeps the two equal.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_ISOLATION, ISOLATION_LEVELS } from '../isolation';
import { bool, filePath, int, names, oneOf, pathList, sentinelTargets, text, type Kind } from './kinds';
import { DEFAULT_BREAKER_THRESHOLD, DEFAULT_FORK_SERVERS, DEFAULT_KEEPALIVE, DEFAULT_PORT, DEFAULT_SENTINEL } from './types';

/** Who reads a setting. A client is any CLI command that calls the Sentinel. */
export type Service = 'sentinel' | 'worker' | 'client';

export interface Setting<T> {
  kind: Kind<T>;
  /** The flag without its dashes; none = variable or file only. */
  flag?: string;
  env?: string;
  services: readonly Service[];
  /** The value when nothing sets it; a function when it depends on the host or the service; none = unset. */
  default?: NoInfer<T> | ((service: Service) => NoInfer<T> | undefined);
  /** How the docs show a default that is computed. */
  defaultDoc?: string;
  /** `value`: shown as "[redacted]"; `url`: credentials in it are masked. */
  secret?: 'value' | 'url';
  description: string;
}

const def = <T>(s: Setting<T>): Setting<T> => s;
const S: readonly Service[] = ['sentinel'];
const W: readonly Service[] = ['worker'];
const SW: readonly Service[] = ['sentinel', 'worker'];
const ALL: readonly Service[] = ['sentinel', 'worker', 'client'];

export const SETTINGS = {
  // Where things are
  dataDir: def({ kind: filePath(), flag: 'data-dir', env: 'CASPARIAN_DATA_DIR', services: S, default: '.casparian', description: 'The Sentinel\'s own state: its SQLite database (unless `db` says otherwise), its DuckDB catalog, the Parquet helper\'s socket, and (unless `outputRoot` says otherwise) committed outputs.' }),
  db: def({
    kind: text(), flag: 'db', env: 'CASPARIAN_DB', services: S, secret: 'url', defaultDoc: '`sqlite:{data-dir}/sentinel.db`',
    description: 'The store of the queue and registry: `sqlite:PATH` (one Sentinel) or `postgres://USER:PASSWORD@HOST:PORT/DB` (replicas share it; see docs/scaling.md).',
  }),
  dbPoolSize: def({ kind: int(1), flag: 'db-pool-size', env: 'CASPARIAN_DB_POOL_SIZE', services: S, default: 10, description: 'PostgreSQL connections one Sentinel may open (ignored for SQLite).' }),
  outputRoot: def({
    kind: filePath(), flag: 'output-root', env: 'CASPARIAN_OUTPUT_ROOT', services: S, defaultDoc: 'the data dir',
    description: 'Where committed outputs live (`outputs/`, with `staging/` beside it on the same file system). Replicas share one, on a volume every replica mounts.',
  }),
  home: def({
    kind: filePath(), flag: 'home', env: 'CASPARIAN_HOME', services: SW, default: () => path.join(os.homedir(), '.casparian_flow'), defaultDoc: '`~/.casparian_flow`',
    description: 'Python environments: the worker\'s, and the env of the Sentinel\'s Parquet helper.',
  }),
  inputRoot: def({
    kind: pathList(), flag: 'input-root', env: 'CASPARIAN_INPUT_ROOTS', services: SW, default: (s) => (s === 'sentinel' ? [process.cwd()] : undefined),
    defaultDoc: 'Sentinel: its working directory; worker: no check',
    description: 'Directories inputs must lie in. Sentinel: others get `PERMISSION_DENIED` at submit. Worker: each input is resolved through its symlinks right before the guest starts and must lie inside a root (else `INPUT_OUTSIDE_ROOTS`, permanent).',
  }),
  // Network
  host: def({ kind: text(), flag: 'host', env: 'CASPARIAN_HOST', services: S, default: '127.0.0.1', description: 'Address the Sentinel binds.' }),
  port: def({ kind: int(0), flag: 'port', env: 'CASPARIAN_PORT', services: S, default: DEFAULT_PORT, description: 'The Sentinel\'s gRPC port (`0` = any free port).' }),
  sentinelAddress: def({
    kind: sentinelTargets(), flag: 'sentinel', env: 'CASPARIAN_SENTINEL', services: ['worker', 'client'], default: [DEFAULT_SENTINEL],
    description:
      'Where workers and clients find the Sentinel: `HOST:PORT`, or several, comma-separated (replicas, tried in turn when one cannot be reached), ' +
      'or `dns:///NAME:PORT` to balance over every address of a name (see docs/operations.md#sentinel-addresses-and-failover).',
  }),
  workerHost: def({ kind: text(), flag: 'worker-host', env: 'CASPARIAN_WORKER_HOST', services: W, default: '127.0.0.1', description: 'Address the worker\'s own gRPC server binds.' }),
  workerPort: def({ kind: int(-1), flag: 'worker-port', env: 'CASPARIAN_WORKER_PORT', services: W, default: 0, description: 'Port of the worker\'s own server (`Run`, health): `0` = any free port, `-1` = no server.' }),
  metricsPort: def({ kind: int(0), flag: 'metrics-port', env: 'CASPARIAN_METRICS_PORT', services: SW, description: 'Serve Prometheus `/metrics` on this port (`casparian start` serves both services on one); unset = off.' }),
  metricsHost: def({ kind: text(), flag: 'metrics-host', env: 'CASPARIAN_METRICS_HOST', services: SW, default: '127.0.0.1', description: 'Address `/metrics` binds.' }),
  httpPort: def({
    kind: int(0), flag: 'http-port', env: 'CASPARIAN_HTTP_PORT', services: S, defaultDoc: 'off; `casparian start`: 50080',
    description: 'Serve the web console and the HTTP/JSON API (`POST /casparian.v1.Sentinel/{Method}`) on this port (`0` = any free port), with the gRPC port\'s TLS and tokens.',
  }),
  httpHost: def({ kind: text(), flag: 'http-host', env: 'CASPARIAN_HTTP_HOST', services: S, default: '127.0.0.1', description: 'Address the web console and HTTP/JSON API bind (off loopback: TLS, or `insecure`).' }),
  // TLS and auth
  tlsCert: def({ kind: filePath(), flag: 'tls-cert', env: 'CASPARIAN_TLS_CERT', services: ALL, description: 'PEM certificate chain: a server\'s, or a client\'s for mTLS (goes with `tlsKey`). Unset = plaintext.' }),
  tlsKey: def({ kind: filePath(), flag: 'tls-key', env: 'CASPARIAN_TLS_KEY', services: ALL, description: 'PEM private key of `tlsCert`.' }),
  tlsCa: def({ kind: filePath(), flag: 'tls-ca', env: 'CASPARIAN_TLS_CA', services: ALL, description: 'PEM roots: a client checks the server with them (else the system\'s roots), a server checks client certificates.' }),
  requireClientCert: def({ kind: bool(), flag: 'require-client-cert', env: 'CASPARIAN_TLS_REQUIRE_CLIENT_CERT', services: ALL, default: false, description: 'A server refuses clients without a certificate from `tlsCa` (mTLS).' }),
  insecure: def({
    kind: bool(), flag: 'insecure', env: 'CASPARIAN_INSECURE', services: SW, default: false,
    description: 'Run a server on a non-loopback host in plaintext, or with nobody asked who they are (no tokens file, no client certificates), on purpose.',
  }),
  tokensFile: def({ kind: filePath(), flag: 'tokens-file', env: 'CASPARIAN_TOKENS_FILE', services: SW, description: 'A server requires tokens whose hashes are in this file (re-read when it changes); unset = no token needed.' }),
  workerCertNames: def({ kind: names(), flag: 'worker-cert-names', env: 'CASPARIAN_WORKER_CERT_NAMES', services: SW, default: [], description: 'Client certificate CNs the Sentinel admits as workers without a token (needs `requireClientCert`).' }),
  token: def({ kind: text(), flag: 'token', env: 'CASPARIAN_TOKEN', services: ['worker', 'client'], secret: 'value', description: 'The token a worker or client sends.' }),
  // Python environments
  python: def({ kind: text(), flag: 'python', env: 'CASPARIAN_PYTHON', services: SW, default: 'python3', description: 'Base interpreter for new environments.' }),
  indexUrl: def({ kind: text(), flag: 'index-url', env: 'CASPARIAN_PIP_INDEX_URL', services: SW, secret: 'url', defaultDoc: "pip's/uv's own configuration", description: 'Package index for installs; credentials in it are never printed or logged.' }),
  installTimeout: def({ kind: int(1), flag: 'install-timeout', env: 'CASPARIAN_INSTALL_TIMEOUT', services: SW, default: 600, description: 'Seconds one environment install may take.' }),
  trustedKeys: def({
    kind: pathList(), flag: 'trusted-keys', env: 'CASPARIAN_TRUSTED_KEYS', services: W,
    description: 'Public keys (PEM files, or directories of them) whose signatures the worker accepts on plugins; read at start.',
  }),
  allowUnsigned: def({
    kind: bool(), flag: 'allow-unsigned', env: 'CASPARIAN_ALLOW_UNSIGNED', services: W, default: false,
    description: 'Development only: run unsigned plugins (signed ones are still verified). Off: an unsigned plugin fails as `SIGNATURE_REQUIRED`.',
  }),
  installEnvAllow: def({ kind: names(), flag: 'install-env-allow', env: 'CASPARIAN_INSTALL_ENV_ALLOW', services: W, default: [], description: 'Host variables pip/uv installs may see besides the base set.' }),
  guestEnvAllow: def({
    kind: names(), flag: 'guest-env-allow', env: 'CASPARIAN_GUEST_ENV_ALLOW', services: W, default: [],
    description: 'The only host variables a plugin\'s `env_allow` may name on this worker; asking for others fails the job (`ENV_NOT_ALLOWED`, permanent).',
  }),
  envMode: def({ kind: oneOf(['auto', 'strict'] as const), flag: 'env-mode', env: 'CASPARIAN_ENV_MODE', services: W, default: 'auto', description: '`auto`: a worker builds environments it lacks; `strict`: never, a missing env is a permanent `ENV_MISSING`.' }),
  envMaxBytes: def({ kind: int(0), flag: 'env-max-bytes', env: 'CASPARIAN_ENV_MAX_BYTES', services: W, default: 10 * 1024 ** 3, description: 'After each new env, least recently used envs over this size are evicted (never one in use).' }),
  envMaxCount: def({ kind: int(1), flag: 'env-max-count', env: 'CASPARIAN_ENV_MAX_COUNT', services: W, default: 50, description: 'After each new env, least recently used envs over this count are evicted.' }),
  commitWriter: def({ kind: oneOf(['auto', 'pyarrow', 'wasm'] as const), flag: 'commit-writer', env: 'CASPARIAN_COMMIT_WRITER', services: S, default: 'auto', description: 'How the Sentinel writes Parquet: `auto` = a pyarrow helper, else parquet-wasm in a thread.' }),
  // The worker
  workerId: def({ kind: text(), flag: 'worker-id', env: 'CASPARIAN_WORKER_ID', services: W, default: () => `${os.hostname()}-${process.pid}`, defaultDoc: '`HOSTNAME-PID`', description: 'The worker\'s name at the Sentinel.' }),
  slots: def({ kind: int(1), flag: 'slots', env: 'CASPARIAN_SLOTS', services: W, default: () => os.cpus().length || 1, defaultDoc: 'CPU count', description: 'Attempts a worker runs at once.' }),
  isolation: def({ kind: oneOf(ISOLATION_LEVELS), flag: 'isolation', env: 'CASPARIAN_ISOLATION', services: W, default: DEFAULT_ISOLATION, description: 'How guests start unless a plugin\'s manifest says otherwise (see README, Isolation levels).' }),
  forkServers: def({ kind: int(1), flag: 'fork-servers', env: 'CASPARIAN_FORK_SERVERS', services: W, default: DEFAULT_FORK_SERVERS, description: 'Fork servers (one per env) per worker; the least recently used idle one makes room.' }),
  // The Sentinel's queue and limits
  leaseMs: def({ kind: int(100), env: 'CASPARIAN_LEASE_MS', services: S, default: 30_000, description: 'An attempt whose worker stops heartbeating is reclaimed after this long (at least twice `heartbeatMs`).' }),
  heartbeatMs: def({ kind: int(50), env: 'CASPARIAN_HEARTBEAT_MS', services: S, default: 5_000, description: 'How often workers heartbeat their attempts.' }),
  maxAttempts: def({ kind: int(1), env: 'CASPARIAN_MAX_ATTEMPTS', services: S, default: 3, description: 'Attempts a job gets unless its plugin or submit says otherwise.' }),
  breakerThreshold: def({ kind: int(0), env: 'CASPARIAN_BREAKER_THRESHOLD', services: S, default: DEFAULT_BREAKER_THRESHOLD, description: 'Consecutive failed attempts that pause a plugin version (`0` = never).' }),
  scheduleToStartMs: def({ kind: int(0), env: 'CASPARIAN_SCHEDULE_TO_START_MS', services: S, default: 0, description: 'A queued job that waits longer fails (`ENV_UNAVAILABLE` if no worker can get its env); `0` = off.' }),
  keepaliveMs: def({ kind: int(1_000), env: 'CASPARIAN_KEEPALIVE_MS', services: S, default: DEFAULT_KEEPALIVE.timeMs, description: 'The Sentinel pings every connection this often.' }),
  keepaliveTimeoutMs: def({ kind: int(1_000), env: 'CASPARIAN_KEEPALIVE_TIMEOUT_MS', services: S, default: DEFAULT_KEEPALIVE.timeoutMs, description: 'A peer that does not answer a ping this fast (a frozen worker) is dropped.' }),
  watchQueueMax: def({ kind: int(1), env: 'CASPARIAN_WATCH_QUEUE_MAX', services: S, default: 10_000, description: 'Events a `WatchJob` client may fall behind by before its stream ends with `RESOURCE_EXHAUSTED`.' }),
  maxConnectionAgeMs: def({ kind: int(0), env: 'CASPARIAN_MAX_CONNECTION_AGE_MS', services: S, default: 0, description: 'Connections older than this get GOAWAY, so a mesh can move clients (workers reconnect); `0` = off.' }),
  maxConnectionAgeGraceMs: def({ kind: int(0), env: 'CASPARIAN_MAX_CONNECTION_AGE_GRACE_MS', services: S, default: 30_000, description: 'Then closed this much later: keep it above your longest output upload.' }),
  maxConcurrentStreams: def({ kind: int(1), env: 'CASPARIAN_MAX_CONCURRENT_STREAMS', services: S, default: 1_000, description: 'HTTP/2 streams one connection to the Sentinel may have open at once.' }),
  sinkRoot: def({
    kind: pathList(), flag: 'sink-root', env: 'CASPARIAN_SINK_ROOTS', services: S, default: [],
    description: 'Directories an absolute sink target (`publish --sink`) may lie in; relative targets go under the data dir\'s `sinks/`.',
  }),
  retainSeconds: def({ kind: int(0), flag: 'retain-seconds', env: 'CASPARIAN_RETAIN_SECONDS', services: S, default: 0, description: 'Finished jobs older than this are purged (as `casparian purge`); `0` = off.' }),
  retentionEveryMs: def({ kind: int(100), env: 'CASPARIAN_RETENTION_EVERY_MS', services: S, default: 3_600_000, description: 'How often automatic retention runs.' }),
  minFreeBytes: def({ kind: int(0), flag: 'min-free-bytes', env: 'CASPARIAN_MIN_FREE_BYTES', services: S, default: 1024 ** 3, description: 'Below this much free space in the data dir nothing is dispatched, and `casparian workers` says why; `0` = off.' }),
  maxOutputBytes: def({ kind: int(1), env: 'CASPARIAN_MAX_OUTPUT_BYTES', services: S, default: 50 * 1024 ** 3, description: 'Arrow bytes one attempt may send; more fails it as `INVALID_OUTPUT`, nothing committed.' }),
  maxLogBytes: def({ kind: int(1), env: 'CASPARIAN_MAX_LOG_BYTES', services: S, default: 10 * 1024 ** 2, description: 'Log bytes kept per attempt; then one note, later lines dropped.' }),
  // Every process
  logLevel: def({ kind: oneOf(['debug', 'info', 'warn', 'error'] as const), flag: 'log-level', env: 'CASPARIAN_LOG_LEVEL', services: ALL, default: 'info', description: 'Least severe log level written.' }),
  logFormat: def({ kind: oneOf(['auto', 'json', 'text'] as const), env: 'CASPARIAN_LOG_FORMAT', services: ALL, default: 'auto', description: 'Log lines as JSON or text; `auto` = JSON when stderr is not a terminal.' }),
  timeout: def({ kind: int(1), flag: 'timeout', env: 'CASPARIAN_CLIENT_TIMEOUT', services: ['client'], default: 30, description: 'Seconds a CLI command waits for each call to the Sentinel.' }),
};

export type Key = keyof typeof SETTINGS;
export type ValueOf<K extends Key> = (typeof SETTINGS)[K] extends Setting<infer T> ? T : never;

export const KEYS = Object.keys(SETTINGS) as Key[];

export function isKey(k: string): k is Key {
  return Object.prototype.hasOwnProperty.call(SETTINGS, k);
}
