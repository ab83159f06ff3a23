/**
 * Every command of the casparian CLI, with the flags it takes and one line
 * on each. The modules under tools/cli/ do the work; this file only says
 * which flags reach them. Flags of settings (services, connection, TLS, …)
 * come from the settings table (setting-options.ts).
 */
import { Command, Option } from 'commander';
import { clientTimeoutMs, compileToken, DEFAULT_SENTINEL, sentinelAddresses, type Flags, type Service, type SettingKey, SETTINGS } from '../../services/common/config';
import { channelCredentials, compileTls } from '../../services/common/tls';
import { SentinelClient } from './client';
import * as cmd from './commands';
import { completionScript } from './completion';
import { configCommand } from './config-command';
import * as datasets from './dataset-commands';
import { dbCommand } from './db-command';
import { envCommand } from './env-commands';
import { keygenCommand } from './keygen-command';
import { bind, explainError, helpConfiguration, repeated, type Action } from './program';
import { purge } from './purge-command';
import * as recovery from './recovery-commands';
import { scan } from './scan-command';
import { runServices } from './services';
import { configOption, settingOption, settingOptions } from './setting-options';
import { tokenCommand } from './token-command';
import { UsageError } from './usage';

type Env = Record<string, string | undefined>;

const JSON_API = 'print the response as canonical proto3 JSON (as grpcurl does: enum names, 64-bit integers as strings, default fields left out)';
const BACKOFF = (): Option[] => [
  new Option('--backoff-initial-ms <N>', 'first retry delay (0 = the plugin\'s, else the Sentinel\'s)'),
  new Option('--backoff-multiplier <X>', 'each later delay is this many times the one before'),
  new Option('--backoff-max-ms <N>', 'longest retry delay'),
];
const PRIORITY = (): Option => new Option('--priority <N>', 'higher first, default 0; negative as --priority=-5');
const NOT_BEFORE = (): Option => new Option('--not-before <TIME>', 'ISO-8601, or from now: +10m, 30s, 2h, 1d');

const GROUPS = {
  services: 'Services:',
  clients: `Clients (--sentinel HOST:PORT, or CASPARIAN_SENTINEL, default ${DEFAULT_SENTINEL}; --json for JSON):`,
  auth: 'Auth (tokens by role, stored hashed; README "Tokens"):',
  signing: 'Plugin signing (README "Signing plugins"):',
  store: 'The store (stop the Sentinel first; docs/operations.md "Moving from SQLite to PostgreSQL"):',
  envs: 'Local environments (CASPARIAN_HOME, default ~/.casparian_flow):',
  config: 'Configuration (every setting: docs/operations.md#configuration):',
  other: 'Other:',
};

const NOTES = `
Notes:
  casparian COMMAND --help lists only that command's flags; a flag another command takes is refused (exit 2).
  Clients: several --sentinel addresses, comma-separated, are replicas tried in turn, and dns:///NAME:PORT
    balances over a name's addresses (docs/operations.md); --timeout SECONDS per call (CASPARIAN_CLIENT_TIMEOUT,
    default 30); settings may also come from the config file's top level.
  --json prints an API response as canonical proto3 JSON, the way grpcurl prints it: enum names
    ("state": "JOB_STATE_SUCCEEDED"), int64 as strings, fields at their default left out, e.g.
    casparian jobs --json | jq '.jobs[] | select(.state == "JOB_STATE_SUCCEEDED")'
  TLS (services and clients; or CASPARIAN_TLS_CERT, _KEY, _CA, _REQUIRE_CLIENT_CERT=1): --tls-cert FILE --tls-key FILE
    (a server's certificate; a client's for mTLS), --tls-ca FILE, --require-client-cert, --insecure.
  Metrics: --metrics-port N [--metrics-host H] on sentinel, worker or start serves Prometheus /metrics.
  Auth: --tokens-file FILE (a server requires tokens from it), --worker-cert-names CN,CN (workers by certificate),
    --token TOKEN (what a client or worker sends; CASPARIAN_TOKEN).
  Configuration: --config FILE (CASPARIAN_CONFIG); flags win over CASPARIAN_* variables, variables over the file,
    the file over defaults; a bad value stops a service at startup (exit 2).
  Exit codes: 0 done; 1 a failed job or call; 2 a usage or configuration error.
  Shell completion: source <(casparian completion bash), or casparian completion zsh (see README).
`;

/** The settings a command that manages this host's environments reads (compileWorkerConfig's). */
const ENV_SETTINGS: SettingKey[] = ['home', 'python', 'indexUrl', 'installTimeout', 'installEnvAllow', 'logLevel'];

/**
 * The whole program. `result.code` receives the exit code of the command
 * that ran; `env` is what settings and the Sentinel address are read from.
 */
export function buildProgram(env: Env, result: { code: number }): Command {
  const program = new Command('casparian')
    .description('casparian — turn files into Arrow/Parquet datasets with Python plugins')
    .usage('COMMAND [ARGS] [options]')
    .enablePositionalOptions()
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureHelp(helpConfiguration())
    .addHelpCommand(new Command('help').usage('[command]').argument('[command]').description('this list, or a command\'s help (as casparian COMMAND --help)').helpGroup(GROUPS.other))
    .addHelpText('after', NOTES);
  program.configureOutput({ outputError: (text, write) => write(explainError(program, text)) });

  /** A command of `parent` in help group `group`, with its flags. */
  const command = (parent: Command, name: string, usage: string, summary: string, group: string, options: Option[] = []): Command => {
    const c = parent.command(name).usage(usage).description(summary).helpGroup(group);
    for (const o of options) c.addOption(o);
    return c;
  };
  const run = (c: Command, action: Action): Command => bind(c, result, action);

  /** A command that calls the Sentinel: the client settings, and `--json` when it prints an API response. */
  const clientCmd = (parent: Command, name: string, usage: string, summary: string, options: Option[], json: string | undefined, action: (c: SentinelClient, args: string[], flags: Flags) => Promise<number | void>): Command => {
    const all = [...options, ...(json ? [new Option('--json', json)] : []), ...settingOptions(['client']), configOption()];
    return run(command(parent, name, usage, summary, GROUPS.clients, all), async (args, flags) => {
      const client = new SentinelClient(sentinelAddresses(flags, env), clientTimeoutMs(flags, env), channelCredentials(compileTls(flags, env)), compileToken(flags, env));
      try {
        return await action(client, args, flags);
      } finally {
        client.close();
      }
    });
  };

  // Services
  const service = (name: 'start' | 'sentinel' | 'worker', summary: string, services: Service[], except: SettingKey[] = []): void => {
    run(command(program, name, '[options]', summary, GROUPS.services, [...settingOptions(services, except), configOption()]), async (_args, flags) => {
      await runServices(name, flags, env);
      return -1; // keep running until a signal
    });
  };
  service('start', 'a Sentinel and a worker in one process (inputs under the current directory unless --input-root)', ['sentinel', 'worker'], ['sentinelAddress']);
  service('sentinel', 'the control plane: queue, registry, outputs (Parquet by a pyarrow helper in an env under --home, else parquet-wasm)', ['sentinel']);
  service('worker', 'runs plugins for the Sentinel(s) at --sentinel', ['worker']);

  // Clients
  clientCmd(program, 'publish', 'PLUGIN.py --lockfile FILE [options]', 'register a plugin version and its environment', [
    new Option('--lockfile <FILE>', 'the plugin environment\'s requirements, pinned (required)'),
    new Option('--name <NAME>', 'the plugin\'s name (default: the file name without .py)'),
    new Option('--version <V>', 'its version (default 0.1.0)'),
    new Option('--description <T>', 'one line about it'),
    new Option('--env-allow <A,B>', 'host variables the plugin may see (each worker\'s --guest-env-allow must allow them)'),
    new Option('--max-attempts <N>', 'attempts per job (default: the Sentinel\'s)'),
    new Option('--max-memory-mb <N>', 'memory limit of a guest'),
    new Option('--max-cpu-seconds <N>', 'CPU time limit of a guest'),
    new Option('--max-open-files <N>', 'open files limit of a guest'),
    ...BACKOFF(),
    new Option('--isolation <spawn|fork|reuse>', 'default: each worker\'s --isolation'),
    new Option('--max-concurrency <N>', 'most jobs of this plugin running at once, all workers; 0 = no cap'),
    new Option('--sign-key <KEY>', 'sign with an Ed25519 private key from keygen (CASPARIAN_SIGN_KEY)'),
    repeated('--sink <OUTPUT=parquet|arrow|sqlite:TARGET[?mode=append|replace|error]>', 'also deliver an output there; may be repeated'),
  ], JSON_API, async (c, args, flags) => cmd.publish(c, args, flags, env)).argument('[plugin]');
  clientCmd(program, 'plugins', '[options]', 'versions, signing key ids, failures, paused or not', [new Option('--name <NAME>', 'only this plugin')], JSON_API, (c, _a, flags) => cmd.plugins(c, flags));
  clientCmd(program, 'submit', 'NAME FILE... [options]', 'one job per file, in one batch', [
    new Option('--version <V>', 'the plugin version (default: the latest)'),
    new Option('--idempotency-key <K>', 'submitting again with the same key returns the same jobs'),
    new Option('--max-attempts <N>', 'attempts per job (default: the plugin\'s)'),
    new Option('--wait', 'follow the jobs until they are final; exit 1 unless all succeeded'),
    ...BACKOFF(),
    PRIORITY(),
    NOT_BEFORE(),
  ], `${JSON_API}: an array of SubmitJobsResponse; with --wait, the final jobs as one ListJobsResponse`, (c, args, flags) => cmd.submit(c, args, flags))
    .argument('[name]')
    .argument('[files...]');
  clientCmd(program, 'scan', 'ROOT --plugin NAME [options]', 'one job per new or changed file under ROOT, one batch', [
    new Option('--plugin <NAME>', 'the plugin to run (required)'),
    new Option('--glob <G>', 'picomatch; no "/" = file name at any depth, e.g. \'*.csv\''),
    new Option('--version <V>', 'the plugin version (default: the latest)'),
    new Option('--max-attempts <N>', 'attempts per job (default: the plugin\'s)'),
    ...BACKOFF(),
    PRIORITY(),
    NOT_BEFORE(),
    new Option('--wait', 'follow the batch until its jobs are final'),
    new Option('--watch', 'scan again on changes until Ctrl-C'),
    new Option('--debounce-ms <N>', 'with --watch: wait for changes to settle this long (default 500)'),
  ], `${JSON_API}: the final SubmitScanResponse (with --wait, plus the batch's JobCounts as "counts"; with --watch, one per line)`, (c, args, flags) => scan(c, args, flags)).argument('[root...]');
  clientCmd(program, 'jobs', '[options]', 'list jobs, newest first', [
    new Option('--state <S>', 'queued, dispatched, running, succeeded, failed, cancelled or dead_letter'),
    new Option('--plugin <NAME>', 'only this plugin\'s'),
    new Option('--batch <ID>', 'only this batch\'s'),
    new Option('--limit <N>', 'at most N (default 100)'),
  ], JSON_API, (c, _a, flags) => cmd.jobs(c, flags));
  const job = clientCmd(program, 'job', 'ID [options]', 'details, error, traceback and logs', [], JSON_API, (c, args, flags) => cmd.job(c, args, flags)).argument('[id]');
  clientCmd(job, 'cancel', 'ID [options]', 'cancel a job', [new Option('--reason <TEXT>', 'kept with the job')], JSON_API, (c, args, flags) => cmd.job(c, ['cancel', ...args], flags)).argument('[id]');
  clientCmd(job, 'retry', 'ID [options]', 'replay a failed, dead_letter or cancelled job', [new Option('--reset-attempts', 'start counting attempts again')], JSON_API, (c, args, flags) => recovery.jobRetry(c, args[0], flags)).argument('[id]');
  clientCmd(program, 'retry', '--dead-letter [options]', 'replay every dead-letter job', [
    new Option('--dead-letter', 'required: replay the jobs in dead letter'),
    new Option('--plugin <NAME>', 'only this plugin\'s'),
    new Option('--reset-attempts', 'start counting attempts again'),
  ], '{"replayed": [ids], "skipped": [{id, error}]} (not an API message: one RetryJob call per job)', (c, _a, flags) => recovery.retryDeadLetter(c, flags));
  const plugin = command(program, 'plugin', 'pause|resume NAME VERSION', 'pause or resume a plugin version', GROUPS.clients);
  clientCmd(plugin, 'pause', 'NAME VERSION [options]', 'stop dispatching a plugin version', [new Option('--reason <TEXT>', 'shown with the plugin')], JSON_API, (c, args, flags) => recovery.plugin(c, ['pause', ...args], flags))
    .argument('[name]')
    .argument('[version]');
  clientCmd(plugin, 'resume', 'NAME VERSION [options]', 'dispatch a paused plugin version again', [], JSON_API, (c, args, flags) => recovery.plugin(c, ['resume', ...args], flags))
    .argument('[name]')
    .argument('[version]');
  clientCmd(program, 'fetch', 'JOB (--out FILE.parquet|FILE.arrows | --format table|csv) [options]', 'a succeeded job\'s output', [
    new Option('--output <NAME>', 'which output (default: the only one, or "default")'),
    new Option('--out <FILE>', 'write FILE.parquet, or the Arrow IPC stream for any other name'),
    new Option('--format <table|csv>', 'print it (default table)'),
    new Option('--limit <N>', 'rows in a table (default 50)'),
  ], undefined, (c, args, flags) => cmd.fetchOutput(c, args, flags)).argument('[job]');
  clientCmd(program, 'workers', '[options]', 'workers, their slots and environments', [], JSON_API, (c, _a, flags) => cmd.workers(c, flags));
  clientCmd(program, 'outputs', '[options]', 'datasets: one per output name, with jobs, rows, size, schemas and plugins', [new Option('--plugin <NAME>', 'only datasets this plugin wrote')], JSON_API, (c, _a, flags) =>
    datasets.outputs(c, flags),
  );
  clientCmd(program, 'query', '"SQL" [options]', 'DuckDB SQL over the datasets, run by the Sentinel; read-only', [
    new Option('--format <table|csv|json>', 'json = one object per line (default table)'),
    new Option('--limit <N>', 'at most N rows (default 10000)'),
  ], 'as --format json: JSON Lines of the rows (not an API message)', (c, args, flags) => datasets.query(c, args, flags)).argument('[sql...]');
  clientCmd(program, 'purge', '--older-than 30d [options]', 'retention: finished jobs, their logs and output files', [
    new Option('--older-than <DURATION>', 'required: 30d, 12h, 90m, 45s'),
    new Option('--state <S,S>', 'only these final states'),
    new Option('--dry-run', 'count, remove nothing'),
    new Option('--limit <N>', 'jobs per call'),
  ], `${JSON_API}: the calls' PurgeJobsResponses summed into one`, (c, _a, flags) => purge(c, flags));

  // Auth, signing, the store
  const token = command(program, 'token', 'create [options]', 'client and worker tokens', GROUPS.auth);
  run(
    command(token, 'create', '--role client|worker --name NAME --tokens-file FILE [options]', 'append a new token\'s hash to FILE; print the token once', GROUPS.auth, [
      new Option('--role <client|worker>', 'what the token may do'),
      new Option('--name <NAME>', 'letters, digits and . _ @ -'),
      new Option('--tokens-file <FILE>', 'the file a server reads (CASPARIAN_TOKENS_FILE); created 0600'),
      new Option('--expires-in <DURATION>', 'e.g. 90d'),
      new Option('--json', 'print {role, name, token, tokensFile, expires} (not an API message)'),
    ]),
    (args, flags) => tokenCommand(['create', ...args], flags, env),
  );
  run(
    command(program, 'keygen', '--out PREFIX [options]', 'writes PREFIX.key (private, 0600) and PREFIX.pub (public); prints the key id', GROUPS.signing, [
      new Option('--out <PREFIX>', 'where the key pair goes'),
      new Option('--json', 'print {keyId, privateKey, publicKey} (not an API message)'),
    ]),
    (args, flags) => keygenCommand(args, flags),
  );
  const db = command(program, 'db', 'copy [options]', 'the Sentinel\'s store', GROUPS.store);
  run(
    command(db, 'copy', '--from STORE --to STORE [options]', 'every row of the --from store into an EMPTY --to store, in one transaction', GROUPS.store, [
      new Option('--from <STORE>', 'sqlite:PATH or postgres://…'),
      new Option('--to <STORE>', 'an empty store, sqlite:PATH or postgres://…'),
      new Option('--rewrite-output-root <OLD=NEW>', 'output files stay where they are: change the directory their stored paths start with'),
      new Option('--json', 'print the copy\'s summary as one JSON object (not an API message)'),
    ]),
    (args, flags) => dbCommand(['copy', ...args], flags),
  );

  // Local environments
  const envCmd = command(program, 'env', 'list|provision|gc|link|doctor [options]', 'this host\'s Python environments', GROUPS.envs);
  const envSub = (name: string, usage: string, summary: string, options: Option[] = []): Command =>
    run(command(envCmd, name, usage, summary, GROUPS.envs, [...options, ...ENV_SETTINGS.map(settingOption), configOption()]), (args, flags) => envCommand([name, ...args], flags, env));
  envSub('list', '[options]', 'the environments and their state', [new Option('--json', 'print them as a JSON array (not an API message)')]);
  envSub('provision', 'LOCKFILE [options]', 'build the environment of a lockfile').argument('[lockfile]');
  envSub('gc', '[options]', 'evict least recently used environments over the caps', [
    new Option('--max-bytes <N>', 'size cap (default 10 GiB)'),
    new Option('--max-count <N>', 'count cap (default 50)'),
    new Option('--dry-run', 'say what would go, remove nothing'),
  ]);
  envSub('link', 'HASH DIR [options]', 'adopt an existing virtualenv as the environment HASH').argument('[hash]').argument('[dir]');
  envSub('doctor', '[HASH] [options]', 'check the tools, and one environment').argument('[hash]');

  // Configuration
  const config = command(program, 'config', 'print [options]', 'the effective configuration', GROUPS.config);
  run(
    command(config, 'print', '[sentinel|worker|client...] [options]', 'the effective settings and where each came from, secrets redacted; starts nothing', GROUPS.config, [
      new Option('--format <json|yaml>', 'default json (not an API message)'),
      ...settingOptions(['sentinel', 'worker', 'client']),
      configOption(),
    ]).argument('[services...]'),
    (args, flags) => {
      checkServiceFlags(args, flags);
      return configCommand(['print', ...args], flags, env);
    },
  );

  // Other
  run(command(program, 'completion', 'bash|zsh', 'print a shell completion script', GROUPS.other).argument('[shell]'), (args) => {
    const [shell] = args;
    if (shell !== 'bash' && shell !== 'zsh') throw new UsageError('usage: casparian completion bash|zsh   (e.g. source <(casparian completion bash))');
    process.stdout.write(completionScript(program, shell));
    return 0;
  });
  return program;
}

/** `config print worker --port 1` is a mistake: --port is no setting of a worker. */
function checkServiceFlags(args: string[], flags: Flags): void {
  const services = (args.length ? args : ['sentinel', 'worker']) as Service[];
  for (const [key, s] of Object.entries(SETTINGS)) {
    if (s.flag === undefined || flags[s.flag] === undefined) continue;
    const readers = s.services as readonly Service[];
    if (!readers.some((r) => services.includes(r))) {
      throw new UsageError(`--${s.flag} (${key}) is not a setting of the ${services.join(' or ')}; it is read by the ${readers.join(' and ')}`);
    }
  }
}
