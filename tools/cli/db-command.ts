/**
 * `casparian db copy --from STORE --to STORE [--rewrite-output-root OLD=NEW] [--json]`:
 * every row of one Sentinel store into another, empty one (copy-store.ts),
 * e.g. from the embedded SQLite file to the PostgreSQL database replicas
 * share. Both stores are migrated to the current schema first. Progress and
 * notes go to stderr; the summary (or, with --json, one JSON object) to stdout.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Flags } from '../../services/common/config';
import { parseStoreTarget, redactUrl, type StoreTarget } from '../../services/common/store-target';
import { CopyRowError, copyStore, TargetNotEmptyError, type CopyReport, type TableProgress } from '../../services/sentinel/db/copy-store';
import { openDatabase, type Db } from '../../services/sentinel/db/open-database';
import { parseOutputRootRewrite, type OutputRootRewrite } from '../../services/sentinel/db/output-paths';
import { strFlag, UsageError } from './usage';

const USAGE = `usage: casparian db copy --from STORE --to STORE [--rewrite-output-root OLD=NEW] [--json]
  STORE is sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DB; the target must be empty.
  Stop every Sentinel using the source first. Output files are not moved; OLD=NEW rewrites the
  directory their stored paths start with (see docs/operations.md, "Moving from SQLite to PostgreSQL").`;

export interface CommandIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** Whether stderr is a terminal (progress redrawn in place). */
  tty: boolean;
}

const processIo = (): CommandIo => ({ stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s), tty: process.stderr.isTTY === true });

export async function dbCommand(args: string[], flags: Flags, io: CommandIo = processIo()): Promise<number> {
  if (args[0] !== 'copy' || args.length !== 1) throw new UsageError(USAGE);
  const from = storeFlag(flags, 'from');
  const to = storeFlag(flags, 'to');
  const rewriteText = strFlag(flags, 'rewrite-output-root');
  let rewrite: OutputRootRewrite | undefined;
  try {
    rewrite = rewriteText === undefined ? undefined : parseOutputRootRewrite(rewriteText);
  } catch (err) {
    throw new UsageError(`--rewrite-output-root: ${(err as Error).message}`);
  }
  if (sameStore(from.target, to.target)) throw new UsageError(`--from and --to name the same store (${from.name})`);
  // openDatabase would create an empty file: a mistyped path must not "copy" nothing.
  if (from.target.kind === 'sqlite' && !fs.statSync(from.target.file, { throwIfNoEntry: false })?.isFile()) {
    throw new Error(`--from ${from.name}: no such SQLite file, nothing to copy (a Sentinel's store is {data-dir}/sentinel.db unless --db says otherwise)`);
  }

  io.stderr(`copying ${from.name} to ${to.name}. Every Sentinel using ${from.name} must be stopped: nothing locks it, and rows written during the copy are not copied.\n`);
  const started = Date.now();
  const source = await open(from, '--from');
  let report: CopyReport;
  try {
    const target = await open(to, '--to');
    try {
      report = await copyStore(source, target, { rewriteOutputRoot: rewrite, onProgress: progressPrinter(io) });
    } catch (err) {
      throw refusal(err, to.name);
    } finally {
      await target.destroy();
    }
  } finally {
    await source.destroy();
  }
  const ms = Date.now() - started;
  const rows = report.tables.reduce((n, t) => n + t.rows, 0);
  if (flags.json) {
    const tables = Object.fromEntries(report.tables.map((t) => [t.table, t.rows]));
    io.stdout(`${JSON.stringify({ from: from.name, to: to.name, tables, rows, ms, outputRoots: report.outputRoots, rewrittenOutputs: report.rewrittenOutputs, outputsNotRewritten: report.outputsNotRewritten })}\n`);
  } else {
    io.stdout(`copied ${rows} rows (${report.tables.map((t) => `${t.table} ${t.rows}`).join(', ')}) from ${from.name} to ${to.name} in ${(ms / 1000).toFixed(1)} s\n`);
  }
  io.stderr(outputNote(report, rewrite));
  return 0;
}

interface NamedStore {
  target: StoreTarget;
  /** As shown in messages: the URL without its password, or the file's absolute path. */
  name: string;
  /** As given, for openDatabase. */
  value: string;
}

function storeFlag(flags: Flags, flag: 'from' | 'to'): NamedStore {
  const value = strFlag(flags, flag);
  if (!value) throw new UsageError(`--${flag} is required\n${USAGE}`);
  let target: StoreTarget;
  try {
    target = parseStoreTarget(value);
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^--db\b/, `--${flag}`));
  }
  const name = target.kind === 'postgres' ? redactUrl(target.url) : `sqlite:${target.file === ':memory:' ? target.file : path.resolve(target.file)}`;
  return { target, name, value };
}

function sameStore(a: StoreTarget, b: StoreTarget): boolean {
  if (a.kind === 'sqlite' && b.kind === 'sqlite') return a.file !== ':memory:' && path.resolve(a.file) === path.resolve(b.file);
  if (a.kind === 'postgres' && b.kind === 'postgres') {
    const [u, v] = [new URL(a.url), new URL(b.url)];
    return u.hostname === v.hostname && (u.port || '5432') === (v.port || '5432') && u.pathname === v.pathname;
  }
  return false;
}

async function open(s: NamedStore, flag: string): Promise<Db> {
  try {
    return await openDatabase(s.value, { poolSize: 2 });
  } catch (err) {
    throw new Error(`${flag} ${s.name}: could not open and migrate it: ${(err as Error).message}`);
  }
}

/** What the user reads when the copy did not happen. */
function refusal(err: unknown, to: string): unknown {
  if (err instanceof TargetNotEmptyError) {
    const rows = Object.entries(err.rows).map(([t, n]) => `${t}: ${n}`).join(', ');
    return new Error(
      `--to ${to} is not empty (${rows} rows); nothing was copied. db copy only fills an empty store: ` +
        'copy into a new database (dropdb and createdb, or DROP DATABASE and CREATE DATABASE) or a new SQLite file, and run it again',
    );
  }
  if (err instanceof CopyRowError) return new Error(`the copy failed and was rolled back, ${to} is as empty as before: ${err.message}`);
  return err;
}

/** Progress on stderr: a line redrawn in place on a terminal, else a line per table (and one every 5 s on a long one). */
function progressPrinter(io: CommandIo): (p: TableProgress) => void {
  let lastLine = Date.now();
  return (p) => {
    if (p.done) {
      io.stderr(`${io.tty ? '\r\x1b[K' : ''}  ${p.table}: ${p.copied} rows\n`);
      lastLine = Date.now();
    } else if (io.tty) {
      io.stderr(`\r\x1b[K  ${p.table}: ${p.copied} of ${p.total} rows`);
    } else if (Date.now() - lastLine >= 5_000) {
      io.stderr(`  ${p.table}: ${p.copied} of ${p.total} rows…\n`);
      lastLine = Date.now();
    }
  };
}

/** Where the output files must be for the copied rows to find them. */
function outputNote(r: CopyReport, rewrite: OutputRootRewrite | undefined): string {
  const notes: string[] = [];
  if (rewrite) {
    notes.push(`rewrote ${r.rewrittenOutputs} output paths from ${rewrite.from} to ${rewrite.to}`);
    if (r.outputsNotRewritten) notes.push(`${r.outputsNotRewritten} output paths did not start with ${rewrite.from} and were copied unchanged`);
  }
  if (r.outputRoots.length) {
    const roots = r.outputRoots.join(', ');
    notes.push(
      `output files were not moved. The copied rows name files under ${roots}: the Sentinels on the new store need that directory as their ` +
        'output root (--output-root, or --data-dir when --output-root is unset), with the files in it. To move the files instead, ' +
        `copy again into an empty store with --rewrite-output-root ${r.outputRoots.length === 1 ? roots : 'OLD'}=NEW: at start a Sentinel removes ` +
        'the output dirs under its own root that no row names',
    );
  }
  return notes.map((n) => `${n}\n`).join('');
}
