/**
 * `npm run bench`: figures measured on this machine with the real parts, in a
 * fresh temporary CASPARIAN_HOME (removed at the end). No thresholds: it
 * prints numbers. Parts (all by default; select with --only a,b):
 *
 *   cold          provision the pyarrow env with venv + pip (EnvManager)
 *   warm          acquire of a ready env, median/p95 of 20
 *   spawn         bridge round trip of a trivial plugin, median/p95 of 20
 *   singleflight  8 concurrent acquire() of a new env hash: wall time, installs
 *   uv            provision through the uv stand-in (test/fixtures/fake-uv)
 *   pipeline      Sentinel + Worker in-process: N small jobs, one large output
 *
 * Packages come from $CASPARIAN_PIP_INDEX_URL when set (else pip's own
 * configuration). --jobs N sets the number of small pipeline jobs (200).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { benchSingleFlight, benchUv, benchWarmAcquire, ensurePyarrowEnv, type BenchContext } from './bench/envs';
import { benchPipeline } from './bench/pipeline';
import { benchSpawn } from './bench/spawn';
import { renderTable, secs, type Figure } from './bench/stats';

const ROOT = path.resolve(__dirname, '..', '..');
const PARTS = ['cold', 'warm', 'spawn', 'singleflight', 'uv', 'pipeline'] as const;

class UsageError extends Error {}
type Part = (typeof PARTS)[number];

function parseArgs(argv: string[]): { parts: Set<Part>; jobs: number } {
  let parts = new Set<Part>(PARTS);
  let jobs = 200;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const eq = a.indexOf('=');
      if (eq >= 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--only' || a.startsWith('--only=')) {
      const names = value().split(',').map((s) => s.trim()).filter(Boolean);
      for (const n of names) if (!(PARTS as readonly string[]).includes(n)) throw new UsageError(`unknown part "${n}"; parts: ${PARTS.join(', ')}`);
      parts = new Set(names as Part[]);
    } else if (a === '--jobs' || a.startsWith('--jobs=')) {
      jobs = Number(value());
      if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError('--jobs must be a positive integer');
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(`usage: node dist/tools/bench.js [--only ${PARTS.join(',')}] [--jobs N]\n`);
      process.exit(0);
    } else {
      throw new UsageError(`unknown argument "${a}"`);
    }
  }
  return { parts, jobs };
}

async function main(): Promise<void> {
  const { parts, jobs } = parseArgs(process.argv.slice(2));
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-bench-home-'));
  const say = (s: string): void => void process.stdout.write(s + '\n');
  const ctx: BenchContext = {
    root: ROOT,
    home,
    indexUrl: process.env.CASPARIAN_PIP_INDEX_URL || undefined,
    lockfile: fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'lockfiles', 'pyarrow.txt'), 'utf8'),
    say,
  };
  const figures: Figure[] = [];
  const t0 = Date.now();
  say(`casparian bench: ${os.cpus().length} cores, node ${process.version}, home ${home}`);
  say(`index: ${ctx.indexUrl ?? "pip's own configuration"}; parts: ${[...parts].join(', ')}`);
  try {
    let python: string | undefined;
    const pyarrowEnv = async (): Promise<string> => (python ??= await ensurePyarrowEnv(ctx, parts.has('cold') ? figures : null));
    if (parts.has('cold')) await pyarrowEnv();
    if (parts.has('warm')) {
      await pyarrowEnv();
      await benchWarmAcquire(ctx, figures);
    }
    if (parts.has('spawn')) await benchSpawn(ctx, await pyarrowEnv(), figures);
    if (parts.has('singleflight')) await benchSingleFlight(ctx, figures);
    if (parts.has('uv')) await benchUv(ctx, figures);
    if (parts.has('pipeline')) {
      await pyarrowEnv();
      await benchPipeline(ctx, figures, jobs);
    }
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
  say(`\n${renderTable(figures)}\n\ntotal ${secs(Date.now() - t0)} on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown cpu'})`);
}

main().then(
  () => process.exit(0),
  (err) => {
    if (err instanceof UsageError) {
      process.stderr.write(`bench: ${err.message}\nusage: node dist/tools/bench.js [--only ${PARTS.join(',')}] [--jobs N]\n`);
      process.exit(2);
    }
    process.stderr.write(`bench failed: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
