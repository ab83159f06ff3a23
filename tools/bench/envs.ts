/**
 * Bench parts on the environment manager: cold provision (venv + pip), warm
 * acquire, single-flight under 8 concurrent acquires, and the uv path through
 * the stand-in in test/fixtures/fake-uv.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { silentLogger } from '../../services/common/logger';
import { envHashOf } from '../../services/worker/envs/env-hash';
import { EnvManager } from '../../services/worker/envs/env-manager';
import { EnvPaths } from '../../services/worker/envs/env-paths';
import type { EnvManagerDeps } from '../../services/worker/envs/types';
import { which } from '../../services/worker/envs/which';
import { median, ms, p95, secs, timed, type Figure } from './stats';

export interface BenchContext {
  root: string;
  home: string;
  indexUrl?: string;
  lockfile: string;
  say(line: string): void;
}

/** A manager on the bench home; uv hidden unless `env` puts it on PATH. */
export function manager(ctx: BenchContext, deps: Partial<EnvManagerDeps> = {}): EnvManager {
  return new EnvManager(
    {
      home: ctx.home,
      mode: 'auto',
      basePython: process.env.CASPARIAN_PYTHON ?? 'python3',
      indexUrl: ctx.indexUrl,
      installTimeoutMs: 600_000,
      lockWaitTimeoutMs: 600_000,
      failureCacheMs: 0,
      logger: silentLogger,
    },
    { env: process.env, ...deps },
  );
}

/** Deps that make the pip backend certain, even on a host with a real uv on PATH. */
const pipOnly: Partial<EnvManagerDeps> = { which: (name) => (name === 'uv' ? undefined : which(name, process.env.PATH)) };

function installsOf(home: string, envHash: string): number {
  const journal = new EnvPaths(home).journal();
  if (!fs.existsSync(journal)) return 0;
  return fs
    .readFileSync(journal, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { event?: string; envHash?: string })
    .filter((e) => e.event === 'start' && e.envHash === envHash).length;
}

/** Makes sure the pyarrow env exists (cold provision when it does not); returns its python. */
export async function ensurePyarrowEnv(ctx: BenchContext, figures: Figure[] | null): Promise<string> {
  const m = manager(ctx, pipOnly);
  await m.init();
  const [lease, took] = await timed(() => m.acquire(envHashOf(ctx.lockfile), ctx.lockfile));
  lease.release();
  if (figures && lease.provisioned) {
    ctx.say(`  cold provision (${lease.backend}): ${secs(took)}`);
    figures.push({ part: 'cold', what: `provision pyarrow env (${lease.backend})`, value: secs(took), note: 'python -m venv + pip install pyarrow' });
  }
  return lease.python;
}

export async function benchWarmAcquire(ctx: BenchContext, figures: Figure[]): Promise<void> {
  const m = manager(ctx, pipOnly);
  await m.init();
  const hash = envHashOf(ctx.lockfile);
  const samples: number[] = [];
  for (let i = 0; i < 20; i++) {
    const [lease, took] = await timed(() => m.acquire(hash, ctx.lockfile));
    lease.release();
    if (lease.provisioned) throw new Error('warm acquire provisioned: the env was not ready');
    samples.push(took);
  }
  ctx.say(`  warm acquire: median ${ms(median(samples))}, p95 ${ms(p95(samples))} (n=20)`);
  figures.push({ part: 'warm', what: 'acquire ready env (median / p95)', value: `${ms(median(samples))} / ${ms(p95(samples))}`, note: 'n=20' });
}

export async function benchSingleFlight(ctx: BenchContext, figures: Figure[]): Promise<void> {
  const lockfile = `# bench single-flight ${process.pid}-${Date.now()}\n${ctx.lockfile}`;
  const hash = envHashOf(lockfile);
  const m = manager(ctx, pipOnly);
  await m.init();
  const [leases, took] = await timed(() => Promise.all(Array.from({ length: 8 }, () => m.acquire(hash, lockfile))));
  for (const l of leases) l.release();
  if (new Set(leases.map((l) => l.python)).size !== 1) throw new Error('the 8 leases point at different interpreters');
  const installs = installsOf(ctx.home, hash);
  ctx.say(`  single-flight: 8 concurrent acquires of a new hash in ${secs(took)}, ${installs} install(s)`);
  figures.push({
    part: 'singleflight',
    what: '8 concurrent acquire(), new hash',
    value: secs(took),
    note: `${installs} install(s) counted in venvs/.logs/installs.jsonl; one EnvManager (one worker)`,
  });
}

export async function benchUv(ctx: BenchContext, figures: Figure[]): Promise<void> {
  const fakeUv = path.join(ctx.root, 'test', 'fixtures', 'fake-uv');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${fakeUv}${path.delimiter}${process.env.PATH ?? ''}`,
    FAKE_UV_CACHE: path.join(ctx.home, 'fake-uv-cache'),
  };
  const m = manager(ctx, { env, which: (name) => which(name, env.PATH) });
  await m.init();
  const results: string[] = [];
  for (const label of ['cold cache', 'warm cache']) {
    const lockfile = `# bench uv ${label} ${process.pid}-${Date.now()}\n${ctx.lockfile}`;
    const [lease, took] = await timed(() => m.acquire(envHashOf(lockfile), lockfile));
    lease.release();
    if (lease.backend !== 'uv') throw new Error(`expected the uv backend, got ${lease.backend}`);
    ctx.say(`  uv stand-in, ${label}: ${secs(took)}`);
    results.push(secs(took));
    figures.push({
      part: 'uv',
      what: `provision via uv stand-in, ${label}`,
      value: secs(took),
      note: label === 'cold cache' ? 'STAND-IN (venv + pip --target into its cache), not real uv' : 'STAND-IN: hard-links the cached install',
    });
  }
}
