/**
 * The isolation seam's implementation (StartGuest, see attempt-runner.ts):
 * every attempt runs through runBridge; the level decides how its guest
 * process is started.
 *
 *  - `spawn`: a fresh `{env}/bin/python bridge_shim.py`, a child of the worker;
 *  - `fork`: a child forked by the env's fork server (ForkServerPool), which
 *    has imported pyarrow and the shim once;
 *  - `reuse`: an idle guest of the same env and plugin (name, version and
 *    source: plugins never see each other's module state) serves the
 *    attempt, or a reusable child is forked. An attempt with resource limits
 *    never runs in a reused guest (rlimits cannot be raised again): it gets a
 *    forked child of its own.
 *
 * The level is the plugin's (its manifest) when set, else the worker's
 * (`--isolation`). Whatever the level, the pool may fall back to spawn.
 */
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { effectiveIsolation, type Isolation } from '../../common/isolation';
import { runBridge } from '../bridge/bridge-host';
import type { ForkServerPool } from '../bridge/fork-pool';
import type { BridgeLimits, GuestJob } from '../bridge/types';
import type { StartGuest } from './types';

const BRIDGE_PY = path.resolve(__dirname, '..', '..', '..', '..', 'bridge_py');
/** bridge_py/bridge_shim.py of this checkout (from dist/services/worker/attempt). */
export const SHIM_PATH = path.join(BRIDGE_PY, 'bridge_shim.py');

/** The fork server that goes with a shim: fork_server.py in the shim's directory. */
export function forkServerBeside(shimPath: string): string {
  return path.join(path.dirname(shimPath), 'fork_server.py');
}

export interface IsolatedGuestOptions {
  /** The worker's default level. */
  isolation: Isolation;
  shimPath: string;
  hostEnv: Readonly<NodeJS.ProcessEnv>;
  /** The worker's fork servers (levels fork and reuse). */
  forks: ForkServerPool;
}

function hasLimits(l: BridgeLimits | undefined): boolean {
  return !!l && (l.memoryMb > 0 || l.cpuSeconds > 0 || l.openFiles > 0);
}

/** Which attempts may share a reused guest: same env, same plugin name, version and source (a debug Run's ad hoc source has no version of its own). */
function reuseKey(envHash: string, job: GuestJob): string {
  const source = crypto.createHash('sha256').update(job.source).digest('hex').slice(0, 16);
  return `${envHash}/${job.pluginName}@${job.pluginVersion}/${source}`;
}

export function isolatedGuest(opts: IsolatedGuestOptions): StartGuest {
  return (req, sink, run) => {
    const level = effectiveIsolation(req.isolation, opts.isolation);
    const reuse = level === 'reuse' && !hasLimits(req.job.limits);
    const launch =
      level === 'spawn'
        ? undefined
        : opts.forks.launcher({
            envHash: req.envHash,
            python: req.python,
            reuseKey: reuse ? reuseKey(req.envHash, req.job) : undefined,
          });
    return runBridge({ ...req.job, python: req.python, shimPath: opts.shimPath }, sink, { ...run, hostEnv: opts.hostEnv, launch });
  };
}
