/**
 * Isolation level `spawn` (today's only one): every attempt gets a fresh
 * `{env}/bin/python bridge_shim.py` in its own process group, through
 * runBridge. See attempt-runner.ts for where other levels plug in.
 */
import * as path from 'node:path';
import { runBridge } from '../bridge/bridge-host';
import type { StartGuest } from './types';

/** bridge_py/bridge_shim.py of this checkout (from dist/services/worker/attempt). */
export const SHIM_PATH = path.resolve(__dirname, '..', '..', '..', '..', 'bridge_py', 'bridge_shim.py');

export function spawnGuest(opts: { shimPath: string; hostEnv: Readonly<NodeJS.ProcessEnv> }): StartGuest {
  return (req, sink, run) => runBridge({ ...req.job, python: req.python, shimPath: opts.shimPath }, sink, { ...run, hostEnv: opts.hostEnv });
}
