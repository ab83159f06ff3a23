/**
 * A ForkServerPool on the bridge harness's env, for the fork and reuse tests:
 * launchers for `h.run`, the pool's log lines, and cleanup that fails the
 * describe block if a fork server or one of its children outlives the pool.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { Logger } from '../../services/common/logger';
import { ForkServerPool, type ForkPoolOptions } from '../../services/worker/bridge/fork-pool';
import type { LaunchGuest } from '../../services/worker/bridge/guest-handle';
import type { BridgeHarness } from './bridge-harness';
import { pidAlive } from './proc-inspect';
import { REPO_ROOT } from './python-env';
import { waitFor } from './wait';

export const FORK_SERVER = path.join(REPO_ROOT, 'bridge_py', 'fork_server.py');

export interface LogLine {
  level: string;
  msg: string;
  [k: string]: unknown;
}

export interface ForkHarness {
  pool: ForkServerPool;
  /** Every line the pool logged (JSON-decoded). */
  logs: LogLine[];
  /** The harness env's hash (its directory name). */
  envHash: string;
  /** Forks each guest (or, with a reuse key, reuses one). */
  launch(reuseKey?: string): LaunchGuest;
  /** The pid of the env's fork server, once started. */
  serverPid(): number | undefined;
}

/** Registers before/after hooks (after the harness's own `before`): a pool per describe block, closed at the end. */
export function useForkPool(h: BridgeHarness, opts: Partial<ForkPoolOptions> = {}): ForkHarness {
  const f: ForkHarness = {
    pool: undefined as unknown as ForkServerPool,
    logs: [],
    envHash: '',
    launch: (reuseKey) => f.pool.launcher({ envHash: f.envHash, python: h.python, reuseKey }),
    serverPid: () => f.pool.serverPids().get(f.envHash),
  };
  const seen = new Set<number>();
  before(() => {
    f.envHash = path.basename(path.dirname(path.dirname(h.python)));
    const logger = new Logger({ level: 'debug', format: 'json', write: (line) => f.logs.push(JSON.parse(line) as LogLine) });
    f.pool = new ForkServerPool({ script: FORK_SERVER, hostEnv: process.env, logger, maxServers: 2, maxIdleGuests: 2, ...opts });
  });
  afterEach(() => {
    const pid = f.serverPid();
    if (pid) seen.add(pid);
  });
  after(async () => {
    await f.pool.close();
    for (const line of f.logs) if (typeof line.pid === 'number' && line.msg === 'fork server ready') seen.add(line.pid);
    await waitFor('every fork server to be gone', () => [...seen].every((pid) => !pidAlive(pid)), 10_000, 50);
    assert.deepEqual(f.pool.serverPids(), new Map(), 'no fork server is left in the pool');
  });
  return f;
}
