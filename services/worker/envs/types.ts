/** Public types of the worker's environment manager. */
import type { Logger } from '../../common/logger';
import type { SpawnFn } from './run-command';

export type EnvMode = 'auto' | 'strict';

export interface EnvManagerConfig {
  /** CASPARIAN_HOME; envs live at `${home}/venvs/${envHash}`. */
  home: string;
  /** auto: provision missing envs from the lockfile; strict (ADR-018): never create, fail with ENV_MISSING. */
  mode: EnvMode;
  /** Interpreter used to create venvs (resolved by the caller from --python / CASPARIAN_PYTHON; default 'python3'). */
  basePython: string;
  /** Passed as --index-url to pip/uv; when absent pip's/uv's own configuration applies untouched. */
  indexUrl?: string;
  /** Deadline for one whole install (all of its commands). Default 600 000. */
  installTimeoutMs: number;
  /** How long to wait for another process's install of the same hash. */
  lockWaitTimeoutMs: number;
  /** How long a failed install of a hash is remembered (fails fast meanwhile). */
  failureCacheMs: number;
  logger: Logger;
  /** Host variables an install may see besides INSTALL_ENV_BASE (env-build.ts), chosen by the operator. */
  installEnvAllow?: readonly string[];
}

export interface EnvManagerDeps {
  /**
   * Environment of the install and probe commands, PATH included (uv is
   * looked up on its PATH): the worker's host environment, handed down by
   * whoever compiled the configuration. Nothing under envs/ reads process.env.
   */
  env: Readonly<NodeJS.ProcessEnv>;
  /** Clock (ms since epoch). */
  now?: () => number;
  /** PATH lookup; default searches `env.PATH`. */
  which?: (name: string) => string | undefined;
  spawn?: SpawnFn;
  /** Poll interval while waiting for another process's install. Default 250 ms. */
  lockPollMs?: number;
}

export type EnvStatus = 'ready' | 'broken';

export interface EnvInfo {
  envHash: string;
  path: string;
  status: EnvStatus;
  backend: 'uv' | 'pip' | 'linked';
  pythonVersion?: string;
  pyarrowVersion?: string;
  sizeBytes?: number;
  createdAt?: string;
  lastUsedAt?: string;
  /** Leases held in this process. */
  inUse: number;
  /** Why the env is broken. */
  problem?: string;
}

export interface EnvLease {
  envHash: string;
  /** `${env}/bin/python`. */
  python: string;
  /** This call (or the in-flight install it joined) built the env. */
  provisioned: boolean;
  durationMs: number;
  backend: string;
  /** Idempotent. */
  release(): void;
}

export type EnvChange = { kind: 'added' | 'evicted' | 'broken'; env: EnvInfo };
