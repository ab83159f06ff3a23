/**
 * What a bench run leaves behind: `{out}/{stamp}-{scale}.json` (every row with
 * its raw details, the machine, the versions, the load) and the printed table
 * as `.txt` beside it.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ratioOf } from './table';
import type { Peers, Row, Scale } from './types';

export interface RunRecord {
  scale: Scale;
  startedAt: Date;
  finishedAt: Date;
  loadBefore: number[];
  groupSeconds: Record<string, number>;
  /** 1-minute load average at the start and end of each group. */
  groupLoad: Record<string, number[]>;
  peers: Peers;
  indexIsLocal: boolean;
  rows: Row[];
  table: string;
}

function git(root: string): { commit?: string; dirty?: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return { commit, dirty };
  } catch {
    return {};
  }
}

/** Writes the JSON and the table; returns the JSON's path. */
export function writeResults(outDir: string, root: string, r: RunRecord): string {
  fs.mkdirSync(outDir, { recursive: true });
  const stamp = r.startedAt.toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z');
  const base = path.join(outDir, `${stamp}-${r.scale.name}`);
  const json = {
    format: 'casparian-bench/1',
    scale: r.scale,
    startedAt: r.startedAt.toISOString(),
    finishedAt: r.finishedAt.toISOString(),
    seconds: (r.finishedAt.getTime() - r.startedAt.getTime()) / 1000,
    groupSeconds: r.groupSeconds,
    groupLoad: r.groupLoad,
    git: git(root),
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model,
      memBytes: os.totalmem(),
      platform: `${os.platform()} ${os.release()}`,
      node: process.version,
      loadBefore: r.loadBefore,
      loadAfter: os.loadavg(),
    },
    peers: { versions: r.peers.versions, raySkipped: r.peers.raySkipped },
    packageIndex: r.indexIsLocal ? 'a local package mirror' : "pip's own configuration",
    rows: r.rows.map((row) => ({ ...row, ratio: ratioOf(row) })),
  };
  fs.writeFileSync(`${base}.json`, JSON.stringify(json, null, 2) + '\n');
  fs.writeFileSync(`${base}.txt`, r.table + '\n');
  return `${base}.json`;
}
