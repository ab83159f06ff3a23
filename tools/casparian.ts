#!/usr/bin/env node
/** The casparian CLI. `casparian help` lists the commands. */
import { parseArgs } from 'node:util';
import { status as grpcStatus } from '@grpc/grpc-js';
import { clientTimeoutMs, compileToken, ConfigError, DEFAULT_SENTINEL, sentinelAddresses, type Flags } from '../services/common/config';
import { SentinelClient } from './cli/client';
import { UsageError } from './cli/usage';
import * as cmd from './cli/commands';
import { scan } from './cli/scan-command';
import { envCommand } from './cli/env-commands';
import * as recovery from './cli/recovery-commands';
import * as datasets from './cli/dataset-commands';
import { runServices } from './cli/services';
import { tokenCommand } from './cli/token-command';
import { keygenCommand } from './cli/keygen-command';
import { purge } from './cli/purge-command';
import { configCommand } from './cli/config-command';
import { dbCommand } from './cli/db-command';
import { channelCredentials, compileTls } from '../services/common/tls';

const HELP = `casparian — turn files into Arrow/Parquet datasets with Python plugins

services:
  casparian start    [--data-dir DIR] [--port N] [--slots N] [--env-mode auto|strict] [--home DIR]
                     [--input-root DIR[:DIR…]]   (default: the current directory)
                     [--trusted-keys FILE|DIR] [--allow-unsigned]   (as for worker)
  casparian sentinel [--data-dir DIR] [--port N] [--host H] [--input-root DIR[:DIR…]]
                     [--commit-writer auto|pyarrow|wasm] [--home DIR] [--python PY] [--index-url URL]
                     (auto: Parquet by a pyarrow helper in an env under --home, else parquet-wasm)
                     [--retain-seconds N]   (automatic retention: purge finished jobs older than N s, hourly)
                     [--sink-root DIR[:DIR…]]   (where absolute publish --sink targets may lie)
                     [--db sqlite:PATH|postgres://…]   (the store; default sqlite:DATA-DIR/sentinel.db; CASPARIAN_DB)
                     [--db-pool-size N]   (PostgreSQL connections per Sentinel, default 10)
                     [--output-root DIR]   (committed outputs; replicas share one; default the data dir)
                     [--http-port N] [--http-host H]   (web console + HTTP/JSON API; off, except start: 50080)
  casparian worker   [--sentinel HOST:PORT[,HOST:PORT…]] [--slots N] [--env-mode auto|strict] [--worker-port N] [--worker-host H]
                     [--home DIR] [--python PY] [--index-url URL] [--install-timeout SECONDS] [--install-env-allow VAR,VAR]
                     [--guest-env-allow VAR,VAR]   (the only variables plugins' --env-allow may name)
                     [--env-max-bytes N] [--env-max-count N]   (LRU env eviction caps: 10 GiB, 50)
                     [--isolation spawn|fork|reuse] (default fork) [--fork-servers N] (default 4)
                     [--trusted-keys FILE|DIR[:…]]   (public keys whose plugin signatures it accepts; CASPARIAN_TRUSTED_KEYS)
                     [--allow-unsigned]   (development only: also run unsigned plugins; CASPARIAN_ALLOW_UNSIGNED=1)
clients (--sentinel HOST:PORT or CASPARIAN_SENTINEL, default ${DEFAULT_SENTINEL}; several, comma-separated, are replicas
         tried in turn, and dns:///NAME:PORT balances over a name's addresses (docs/operations.md); --json for JSON;
         --timeout SECONDS per call, or CASPARIAN_CLIENT_TIMEOUT, default 30; the config file's top level):
  casparian publish PLUGIN.py --lockfile FILE [--name NAME] [--version V] [--description T] [--env-allow A,B]
                    [--max-attempts N] [--max-memory-mb N] [--max-cpu-seconds N] [--max-open-files N]
                    [--backoff-initial-ms N] [--backoff-multiplier X] [--backoff-max-ms N]
                    [--isolation spawn|fork|reuse]   (default: each worker's --isolation)
                    [--max-concurrency N]   (most jobs of this plugin running at once, all workers; 0 = no cap)
                    [--sign-key KEY]   (sign with an Ed25519 private key from keygen; CASPARIAN_SIGN_KEY)
                    [--sink OUTPUT=parquet|arrow|sqlite:TARGET[?mode=append|replace|error]]…   (also deliver outputs there)
  casparian plugins [--name NAME]   (versions, signing key ids, failures, paused or not)
  casparian submit NAME FILE... [--version V] [--idempotency-key K] [--max-attempts N] [--wait]
                    [--backoff-initial-ms N] [--backoff-multiplier X] [--backoff-max-ms N]
                    [--priority N]   (higher first, default 0; negative as --priority=-5)
                    [--not-before TIME]   (ISO-8601, or from now: +10m, 30s, 2h, 1d)
  casparian scan ROOT --plugin NAME [--glob G] [--version V] [--max-attempts N] [--priority N] [--not-before TIME]
                    [--wait | --watch [--debounce-ms N]]   (one job per new or changed file under ROOT, one batch;
                    G: picomatch, no "/" = file name at any depth, e.g. '*.csv'; --watch: scan again on changes until Ctrl-C)
  casparian jobs [--state S] [--plugin NAME] [--batch ID] [--limit N]   (S: queued … failed, cancelled, dead_letter)
  casparian job ID            (details, error, traceback and logs)
  casparian job cancel ID [--reason TEXT]
  casparian job retry ID [--reset-attempts]   (replay a failed, dead_letter or cancelled job)
  casparian retry --dead-letter [--plugin NAME] [--reset-attempts]   (replay every dead-letter job)
  casparian plugin pause NAME VERSION [--reason TEXT] | casparian plugin resume NAME VERSION
  casparian fetch JOB [--output NAME] (--out FILE.parquet|FILE.arrows | --format table|csv)
  casparian workers
  casparian outputs [--plugin NAME]   (datasets: one per output name, with jobs, rows, size, schemas and plugins)
  casparian query "SQL" [--format table|csv|json] [--limit N]   (DuckDB SQL over the datasets, run by the Sentinel;
                    read-only; json = one object per line; at most N rows, default 10000)
  casparian purge --older-than 30d [--state S,S] [--dry-run] [--limit N]   (retention: finished jobs, their logs and output files)
TLS (services and clients; or CASPARIAN_TLS_CERT, _KEY, _CA, _REQUIRE_CLIENT_CERT=1):
  --tls-cert FILE --tls-key FILE   a server's certificate; a client's for mTLS
  --tls-ca FILE                    a client checks the server with it; a server checks client certificates
  --require-client-cert            a server refuses clients without a certificate from --tls-ca (mTLS)
  --insecure                       serve plaintext on a non-loopback --host anyway (CASPARIAN_INSECURE=1)
metrics: --metrics-port N [--metrics-host H]   Prometheus /metrics of a sentinel, worker or start (CASPARIAN_METRICS_PORT)
auth (tokens by role, stored hashed; see README "Tokens"):
  casparian token create --role client|worker --name NAME --tokens-file FILE [--expires-in 90d]   (appends its hash; prints the token once)
  --tokens-file FILE               a server requires tokens from FILE (CASPARIAN_TOKENS_FILE; re-read when it changes)
  --worker-cert-names CN,CN        the Sentinel admits workers by client certificate CN (needs --require-client-cert)
  --token TOKEN                    a client's or worker's token (CASPARIAN_TOKEN)
plugin signing (see README "Signing plugins"):
  casparian keygen --out PREFIX    writes PREFIX.key (private, 0600) and PREFIX.pub (public); prints the key id
the store (stop the Sentinel first; docs/operations.md "Moving from SQLite to PostgreSQL"):
  casparian db copy --from STORE --to STORE [--rewrite-output-root OLD=NEW] [--json]
                    (every row of the --from store into an EMPTY --to store, in one transaction; STORE: sqlite:PATH or
                    postgres://…; output files stay where they are: OLD=NEW changes the directory their stored paths start with)
local environments (CASPARIAN_HOME, default ~/.casparian_flow):
  casparian env list | provision LOCKFILE | gc [--max-bytes N] [--max-count N] [--dry-run] | link HASH DIR | doctor [HASH]
configuration (every setting, its variable and file key: docs/operations.md#configuration):
  --config FILE                    a YAML or JSON file of settings (CASPARIAN_CONFIG); flags win over CASPARIAN_* variables,
                                   variables over the file, the file over defaults; a bad value stops a service at startup (exit 2)
  casparian config print [sentinel|worker|client] [--format json|yaml] [flags…]
                                   the effective settings and where each came from, secrets redacted; starts nothing
`;

const STRING_FLAGS = [
  'config', 'data-dir', 'input-root', 'port', 'host', 'worker-host', 'slots', 'env-mode', 'commit-writer', 'home', 'sentinel', 'worker-port', 'worker-id', 'python', 'index-url',
  'install-timeout', 'env-max-bytes', 'env-max-count', 'lockfile', 'name', 'version', 'description', 'env-allow', 'idempotency-key', 'max-attempts', 'state',
  'plugin', 'limit', 'reason', 'timeout', 'max-memory-mb', 'max-cpu-seconds', 'max-open-files', 'backoff-initial-ms', 'backoff-multiplier', 'backoff-max-ms', 'output', 'out', 'format', 'max-bytes', 'max-count', 'log-level', 'isolation', 'fork-servers',
  'tls-cert', 'tls-key', 'tls-ca', 'install-env-allow', 'guest-env-allow', 'min-free-bytes', 'metrics-port', 'metrics-host', 'older-than', 'retain-seconds', 'token', 'tokens-file', 'worker-cert-names', 'role',
  'expires-in', 'priority', 'not-before', 'max-concurrency', 'sign-key', 'trusted-keys', 'sink-root', 'glob', 'debounce-ms',
  'db', 'db-pool-size', 'output-root', 'http-port', 'http-host',
  'from', 'to', 'rewrite-output-root',
];
/** Flags that may be given more than once. */
const REPEATED_FLAGS = ['sink'];
const BOOL_FLAGS = ['json', 'wait', 'dry-run', 'help', 'dead-letter', 'reset-attempts', 'require-client-cert', 'insecure', 'allow-unsigned', 'watch'];

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: Object.fromEntries([
      ...STRING_FLAGS.map((f) => [f, { type: 'string' as const }]),
      ...BOOL_FLAGS.map((f) => [f, { type: 'boolean' as const }]),
      ...REPEATED_FLAGS.map((f) => [f, { type: 'string' as const, multiple: true }]),
    ]),
  });
  // A repeated flag reaches its command as one string, its values one per line.
  const flags = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Array.isArray(v) ? v.join('\n') : v])) as Flags;
  const env = process.env;
  const [command, ...args] = positionals;
  if (!command || command === 'help' || flags.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (command === 'start' || command === 'sentinel' || command === 'worker') {
    await runServices(command, flags, env);
    return -1; // keep running until a signal
  }
  if (command === 'env') return envCommand(args, flags, env);
  if (command === 'token') return tokenCommand(args, flags, env);
  if (command === 'config') return configCommand(args, flags, env);
  if (command === 'keygen') return keygenCommand(args, flags);
  if (command === 'db') return dbCommand(args, flags);
  const client = new SentinelClient(sentinelAddresses(flags, env), clientTimeoutMs(flags, env), channelCredentials(compileTls(flags, env)), compileToken(flags, env));
  try {
    switch (command) {
      case 'publish':
        await cmd.publish(client, args, flags, env);
        return 0;
      case 'plugins':
        await cmd.plugins(client, flags);
        return 0;
      case 'submit':
        return await cmd.submit(client, args, flags);
      case 'scan':
        return await scan(client, args, flags);
      case 'jobs':
        await cmd.jobs(client, flags);
        return 0;
      case 'job':
        await cmd.job(client, args, flags);
        return 0;
      case 'fetch':
        await cmd.fetchOutput(client, args, flags);
        return 0;
      case 'outputs':
        await datasets.outputs(client, flags);
        return 0;
      case 'query':
        await datasets.query(client, args, flags);
        return 0;
      case 'workers':
        await cmd.workers(client, flags);
        return 0;
      case 'purge':
        await purge(client, flags);
        return 0;
      case 'retry':
        return await recovery.retryDeadLetter(client, flags);
      case 'plugin':
        await recovery.plugin(client, args, flags);
        return 0;
      default:
        throw new cmd.UsageError(`unknown command "${command}"\n\n${HELP}`);
    }
  } finally {
    client.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    const e = err as { code?: number; details?: string; message?: string };
    if (err instanceof UsageError || err instanceof ConfigError || String((err as { code?: string }).code).startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${e.message}\n`);
      process.exitCode = 2;
    } else if (typeof e.code === 'number' && e.details !== undefined) {
      process.stderr.write(`error: ${grpcStatus[e.code] ?? e.code}: ${e.details}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`error: ${e.message ?? String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
