/**
 * `node dist/tools/bench-isolation.js [--runs N] [--python PY]`: the
 * per-attempt guest cost of the isolation levels spawn, fork and reuse
 * (tools/bench/isolation.ts), beside plain-Python references from the same
 * run. Without --python it uses (or provisions once) the pyarrow env of
 * test/fixtures/lockfiles/pyarrow.txt under $CASPARIAN_HOME. No thresholds.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileWorkerConfig } from '../services/common/config';
import { silentLogger } from '../services/common/logger';
import { envHashOf } from '../services/worker/envs/env-hash';
import { EnvManager } from '../services/worker/envs/env-manager';
import { benchIsolation } from './bench/isolation';
import { renderTable, type Figure } from './bench/stats';

const ROOT = path.resolve(__dirname, '..', '..');

async function pyarrowPython(): Promise<string> {
  const cfg = compileWorkerConfig({}, process.env);
  const m = new EnvManager(
    { home: cfg.home, mode: 'auto', basePython: cfg.basePython, indexUrl: cfg.indexUrl, installTimeoutMs: 600_000, lockWaitTimeoutMs: 600_000, failureCacheMs: 0, logger: silentLogger },
    { env: process.env },
  );
  const lockfile = fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'lockfiles', 'pyarrow.txt'), 'utf8');
  const lease = await m.acquire(envHashOf(lockfile), lockfile);
  lease.release();
  return lease.python;
}

async function main(argv: string[]): Promise<void> {
  let runs = 50;
  let python: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--runs') runs = Number(argv[++i]);
    else if (argv[i] === '--python') python = argv[++i];
    else throw new Error(`usage: bench-isolation [--runs N] [--python PY]; unknown argument ${argv[i]}`);
  }
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
  const say = (s: string): void => void process.stdout.write(s + '\n');
  python ??= await pyarrowPython();
  say(`isolation bench: ${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, ${python}, ${runs} runs per level`);
  const figures: Figure[] = [];
  await benchIsolation({ python, bridgeDir: path.join(ROOT, 'bridge_py'), runs, say }, figures);
  say('');
  say(renderTable(figures));
}

main(process.argv.slice(2)).catch((e: Error) => {
  process.stderr.write(`${e.stack ?? e.message}\n`);
  process.exit(1);
});
