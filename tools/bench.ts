/**
 * `npm run bench [-- --quick]`: issue 8's figures, each beside a reference
 * measured in the same run (docs/bench.md). Services run as real processes
 * (`casparian sentinel|worker`) on loopback, one fresh cluster per row
 * group; the references (a plain Python loop, Ray, pyarrow, a raw grpc-js
 * stream, plain pip) run right after their row. Prints one table, writes it
 * and a JSON record to bench/results/. Never asserts a timing: it exits
 * non-zero only when a measurement could not be made.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileOptions, usage, UsageError, type BenchOptions } from './bench/options';
import { acquireEnv } from './bench/envs';
import { ensureRefVenv, useRefVenv } from './bench/ref-venv';
import { writeResults } from './bench/results';
import { ROW_GROUPS } from './bench/rows';
import { secs } from './bench/stats';
import { renderTable } from './bench/table';
import type { BenchContext, Row, RowGroup, Variant } from './bench/types';
import { cliHasIsolationFlag, ISOLATION_LEVELS, isolationVariants } from './bench/variants';
import { pipIndexUrl } from './pip-index';

const ROOT = path.resolve(__dirname, '..', '..');
/** The worker as `casparian worker` starts it without flags, for the rows not measured per level. */
const DEFAULT_VARIANT: Variant = { name: 'default', workerFlags: {} };

const say = (s: string): void => void process.stdout.write(s + '\n');

async function runGroup(ctx: BenchContext, group: RowGroup, variant: Variant): Promise<Row[]> {
  try {
    const rows = await group.run(ctx, variant);
    return group.perVariant ? rows : rows.map((r) => ({ ...r, variant: undefined }));
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    say(`  FAILED: ${message}`);
    return [{ id: group.rows, title: group.name, variant: group.perVariant ? variant.name : undefined, unit: '', better: 'higher', refLabel: '', failed: message.split('\n')[0], note: '' }];
  }
}

async function main(opts: BenchOptions): Promise<number> {
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-bench-'));
  const cleanup = (): void => void (opts.keep || fs.rmSync(work, { recursive: true, force: true }));
  process.once('exit', cleanup); // also after Ctrl-C (reaper.ts exits with 130)
  const workerHome = path.join(opts.benchHome, 'worker-home');
  const indexUrl = pipIndexUrl();
  const lockfile = fs.readFileSync(path.join(ROOT, 'bench', 'plugins', 'pyarrow.lock'), 'utf8');
  say(`casparian bench (${opts.scale.name}): ${os.cpus().length} cores, node ${process.version}, load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`);
  say(`bench home ${opts.benchHome}; scratch ${work}; packages from ${indexUrl ? 'the index pip is configured with (local)' : "pip's own configuration"}`);
  try {
    const variants = isolationVariants(opts.isolation, cliHasIsolationFlag(ROOT));
    const peers = opts.refVenv ? await useRefVenv(opts.refVenv) : await ensureRefVenv(ROOT, opts.benchHome, indexUrl, say);
    say(`references: ${Object.entries(peers.versions).map(([k, v]) => `${k} ${v}`).join(', ')}${peers.raySkipped ? `; Ray skipped: ${peers.raySkipped}` : ''}`);
    const warm = await acquireEnv(workerHome, indexUrl, lockfile);
    say(`warm env ${warm.provisioned ? `provisioned (${secs(warm.durationMs)})` : 'ready'}: ${warm.python}`);
    const profileDir = opts.cpuProf ? path.join(opts.outDir, `profiles-${startedAt.toISOString().replace(/[:.]/g, '-')}`) : undefined;
    const ctx: BenchContext = { root: ROOT, scale: opts.scale, work, workerHome, indexUrl, lockfile, envPython: warm.python, peers, profileDir, say };

    const rows: Row[] = [];
    const groupSeconds: Record<string, number> = {};
    /** 1-minute load average at the start and end of each group: how quiet the machine was. */
    const groupLoad: Record<string, number[]> = {};
    for (const group of ROW_GROUPS.filter((g) => opts.only.includes(g.name))) {
      for (const variant of group.perVariant ? variants : [DEFAULT_VARIANT]) {
        const label = group.perVariant ? `${group.name} [${variant.name}]` : group.name;
        say(`\n${label} (row ${group.rows})`);
        const t0 = Date.now();
        const loadBefore = os.loadavg()[0];
        rows.push(...(await runGroup(ctx, group, variant)));
        groupSeconds[label] = (Date.now() - t0) / 1000;
        groupLoad[label] = [loadBefore, os.loadavg()[0]];
        say(`  ${secs(Date.now() - t0)}`);
      }
    }
    const table = renderTable(rows);
    const finishedAt = new Date();
    say(`\n${table}\n`);
    const file = writeResults(opts.outDir, ROOT, { scale: opts.scale, startedAt, finishedAt, loadBefore, groupSeconds, groupLoad, peers, indexIsLocal: !!indexUrl, rows, table });
    say(`${secs(finishedAt.getTime() - startedAt.getTime())} in all; load now ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; written ${path.relative(process.cwd(), file)}`);
    if (profileDir) say(`CPU profiles of the services in ${profileDir}`);
    return rows.some((r) => r.failed) ? 1 : 0;
  } finally {
    if (opts.keep) say(`kept ${work}`);
    cleanup();
  }
}

const groupNames = ROW_GROUPS.map((g) => g.name);
let options: BenchOptions;
try {
  options = compileOptions(process.argv.slice(2), ROOT, groupNames, ISOLATION_LEVELS);
} catch (e) {
  if (!(e instanceof UsageError)) throw e;
  process.stderr.write(`${e.message ? `bench: ${e.message}\n` : ''}${usage(ROW_GROUPS, ISOLATION_LEVELS)}`);
  process.exit(e.message ? 2 : 0);
}
main(options).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`bench failed: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
