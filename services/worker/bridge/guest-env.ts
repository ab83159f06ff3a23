/**
 * The environment a guest Python process gets. Built from an allow-list, never
 * by copying process.env, so that the worker's secrets (cloud credentials,
 * database URLs, tokens) cannot reach plugin code.
 */
import * as path from 'node:path';

/** Variables copied from the worker's environment when set. */
export const GUEST_ENV_ALLOW_LIST = ['PATH', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR'] as const;

/** Variables the bridge itself sets; `extraEnv` cannot override them. */
export const BRIDGE_ENV_SOCKET = 'CASPARIAN_BRIDGE_SOCKET';
export const BRIDGE_ENV_TOKEN = 'CASPARIAN_BRIDGE_TOKEN';
/** The job's W3C trace context, for a plugin that traces its own work (the name of OpenTelemetry's environment-variable carrier). */
export const GUEST_ENV_TRACEPARENT = 'TRACEPARENT';
const RESERVED = new Set(['HOME', BRIDGE_ENV_SOCKET, BRIDGE_ENV_TOKEN]);

const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface GuestEnvInput {
  /** The worker's environment, read only for the allow-listed names. */
  base: Readonly<NodeJS.ProcessEnv>;
  /** The job's private directory; becomes HOME. */
  privateDir: string;
  socketPath: string;
  token: string;
  /** The interpreter; its bin directory goes first on PATH, as a venv activation would do. */
  python?: string;
  extraEnv?: Record<string, string>;
  /** The job's W3C traceparent; set as TRACEPARENT (over any allowed variable of that name). */
  traceparent?: string;
}

/** Throws TypeError for an `extraEnv` that could not be passed to a process. */
export function validateExtraEnv(extraEnv: Record<string, string> | undefined): void {
  for (const [key, value] of Object.entries(extraEnv ?? {})) {
    if (!ENV_NAME.test(key)) throw new TypeError(`extraEnv: invalid variable name ${JSON.stringify(key)}`);
    if (RESERVED.has(key)) throw new TypeError(`extraEnv: ${key} is set by the bridge and cannot be overridden`);
    if (typeof value !== 'string' || value.includes('\0')) {
      throw new TypeError(`extraEnv: ${key} must be a string without NUL bytes`);
    }
  }
}

/** What every guest environment holds before its job's own variables: the allow-list, PATH, HOME and Python's settings. */
function baseEnv(base: Readonly<NodeJS.ProcessEnv>, home: string, python: string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of GUEST_ENV_ALLOW_LIST) {
    const value = base[name];
    if (value !== undefined) env[name] = value;
  }
  const basePath = env.PATH || DEFAULT_PATH;
  env.PATH = python && path.isAbsolute(python) ? `${path.dirname(python)}:${basePath}` : basePath;
  env.HOME = home;
  env.PYTHONUNBUFFERED = '1';
  env.PYTHONDONTWRITEBYTECODE = '1';
  return env;
}

/**
 * The environment of a fork server (bridge_py/fork_server.py): a guest's,
 * without the job's variables, socket or token. Variables read when the
 * interpreter starts (LANG, LC_*, PYTHON*) thus have the values a spawned
 * guest would start with. Each forked child replaces its os.environ with
 * its job's buildGuestEnv().
 */
export function buildServerEnv(input: { base: Readonly<NodeJS.ProcessEnv>; home: string; python: string }): Record<string, string> {
  return {
    ...baseEnv(input.base, input.home, input.python),
    // pyarrow's bundled jemalloc would otherwise start a background thread at import, and a
    // process with other threads must not fork. Arrow's default pool is not jemalloc.
    JE_ARROW_MALLOC_CONF: 'background_thread:false',
  };
}

export function buildGuestEnv(input: GuestEnvInput): Record<string, string> {
  validateExtraEnv(input.extraEnv);
  const env = baseEnv(input.base, input.privateDir, input.python);
  Object.assign(env, input.extraEnv ?? {});
  if (input.traceparent) env[GUEST_ENV_TRACEPARENT] = input.traceparent;
  env[BRIDGE_ENV_SOCKET] = input.socketPath;
  env[BRIDGE_ENV_TOKEN] = input.token;
  return env;
}
