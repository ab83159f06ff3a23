/**
 * The bench's command line, compiled once into frozen options: which row
 * groups, which isolation levels, the scale (full or --quick) and where
 * things live.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultHome } from '../../services/common/config';
import type { Scale } from './types';

export const SCALES: Readonly<Record<Scale['name'], Scale>> = Object.freeze({
  full: { name: 'full', trivialJobs: 1000, latencySamples: 200, files: 200, rowsPerFile: 16_500, commitBytes: 1e9, rssBytes: 2e9, guestStarts: 30, provisions: 3, scanFiles: 100_000 },
  quick: { name: 'quick', trivialJobs: 50, latencySamples: 20, files: 20, rowsPerFile: 16_500, commitBytes: 50e6, rssBytes: 100e6, guestStarts: 10, provisions: 1, scanFiles: 5_000 },
});

export interface BenchOptions {
  scale: Scale;
  /** Row groups to run (all when not narrowed by --only). */
  only: string[];
  /** Isolation levels for the per-level rows. */
  isolation: string[];
  /** Holds the reference venv and the workers' env home, kept between runs. */
  benchHome: string;
  refVenv?: string;
  /** Where the JSON and the table of this run go. */
  outDir: string;
  cpuProf: boolean;
  keep: boolean;
}

export class UsageError extends Error {}

export function usage(groups: readonly { name: string; rows: string }[], levels: readonly string[]): string {
  return `usage: npm run bench -- [options]
  --quick               a small run (CI): ${JSON.stringify(SCALES.quick)}
  --only G,G            row groups: ${groups.map((g) => `${g.name} (row ${g.rows})`).join(', ')}
  --isolation L,L       isolation levels for rows 1, 2, 3, 7b (default: ${levels.join(',')})
  --bench-home DIR      reference venv and the workers' envs, kept between runs (default: $CASPARIAN_HOME/bench)
  --ref-venv DIR        use this venv (pyarrow, optionally ray) for the references instead of building one
  --out DIR             where the JSON and table go (default: bench/results)
  --cpu-prof            run the services under node --cpu-prof; profiles go next to the JSON
  --keep                keep this run's scratch directory (inputs, Sentinel data, logs)
`;
}

export function compileOptions(argv: string[], root: string, groups: readonly string[], levels: readonly string[]): Readonly<BenchOptions> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        quick: { type: 'boolean' },
        only: { type: 'string' },
        isolation: { type: 'string' },
        'bench-home': { type: 'string' },
        'ref-venv': { type: 'string' },
        out: { type: 'string' },
        'cpu-prof': { type: 'boolean' },
        keep: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) throw new UsageError('');
  const list = (v: string | undefined, all: readonly string[], what: string): string[] => {
    if (v === undefined) return [...all];
    const names = v.split(',').map((s) => s.trim()).filter(Boolean);
    if (names.length === 0) throw new UsageError(`--${what} needs at least one name`);
    return names;
  };
  const only = list(values.only, groups, 'only');
  for (const g of only) if (!groups.includes(g)) throw new UsageError(`unknown row group "${g}"; groups: ${groups.join(', ')}`);
  return Object.freeze({
    scale: values.quick ? SCALES.quick : SCALES.full,
    only,
    isolation: list(values.isolation, levels, 'isolation'),
    benchHome: path.resolve(values['bench-home'] ?? path.join(defaultHome(process.env), 'bench')),
    refVenv: values['ref-venv'],
    outDir: path.resolve(values.out ?? path.join(root, 'bench', 'results')),
    cpuProf: values['cpu-prof'] ?? false,
    keep: values.keep ?? false,
  });
}
