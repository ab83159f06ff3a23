/**
 * Contracts of the bench (`npm run bench`, docs/bench.md): what a row of the
 * table is, what every row group gets, and how a group is declared. A leaf
 * module: types only.
 */
import type { Flags } from '../../services/common/config';

/** Which way is good for a figure; the ratio is always figure ÷ reference. */
export type Better = 'higher' | 'lower';

/**
 * One line of the table: a figure beside its reference, measured in the same
 * run. `value` is absent when the measurement failed (`failed` says why);
 * `reference` is absent when there is none by design (`refMissing` "—") or
 * its peer could not run here (`refMissing` "skipped: why").
 */
export interface Row {
  /** Row number of issue 8 §1, with a letter where one number has several rows: "1", "3a", "7b". */
  id: string;
  /** What is measured, e.g. "trivial jobs/s". */
  title: string;
  /** The worker's isolation level, for rows measured per level. */
  variant?: string;
  unit: string;
  better: Better;
  value?: number;
  reference?: number;
  /** What the reference is, e.g. "Ray tasks/s, 2 CPUs". */
  refLabel: string;
  refMissing?: string;
  failed?: string;
  /** Sample sizes, data sizes, anything needed to read the figure. */
  note: string;
  /** Extra figures for the JSON only (raw samples, sizes, sub-timings). */
  detail?: Record<string, unknown>;
}

/** Sizes of one bench run: `--quick` or the full one of issue 8. */
export interface Scale {
  name: 'quick' | 'full';
  trivialJobs: number;
  latencySamples: number;
  files: number;
  rowsPerFile: number;
  commitBytes: number;
  rssBytes: number;
  guestStarts: number;
  /** Cold provisions per side in row 7a (alternating; the median counts). */
  provisions: number;
  /** Small files in the tree rows 8a-8d scan. */
  scanFiles: number;
}

/** The reference venv (pyarrow, and Ray when it could be installed). */
export interface Peers {
  python: string;
  /** Why Ray's rows are skipped; undefined when Ray is there. */
  raySkipped?: string;
  versions: Record<string, string>;
}

/** What every row group gets. */
export interface BenchContext {
  /** Repository root (bench/plugins, bench/peers, dist/). */
  readonly root: string;
  readonly scale: Scale;
  /** This run's scratch directory (inputs, Sentinel data dirs, logs); removed at the end unless kept. */
  readonly work: string;
  /** CASPARIAN_HOME of the bench's workers: the warm env lives here between runs. */
  readonly workerHome: string;
  readonly indexUrl?: string;
  /** Text of bench/plugins/pyarrow.lock, the lockfile of every bench plugin. */
  readonly lockfile: string;
  /** The warm env's python (provisioned by the worker's EnvManager before any row). */
  readonly envPython: string;
  readonly peers: Peers;
  /** Run the services under `node --cpu-prof`, profiles written here. */
  readonly profileDir?: string;
  say(line: string): void;
}

/** A way to run the worker, e.g. an isolation level, as the worker flags it needs. */
export interface Variant {
  name: string;
  workerFlags: Flags;
}

/**
 * A group of rows measured together (one cluster, one output). Groups with
 * `perVariant` run once per isolation level.
 */
export interface RowGroup {
  name: string;
  /** The rows it produces, for `--help` and docs: "1", "4, 5". */
  rows: string;
  perVariant: boolean;
  run(ctx: BenchContext, variant: Variant): Promise<Row[]>;
}
