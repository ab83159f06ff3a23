/**
 * Who is using which env. In-process counts back `EnvInfo.inUse`; while a
 * manager holds at least one lease on an env it also keeps a file
 * `${venvs}/.leases/{hash}@{pid}.{instance}`, so a gc run from another
 * process (e.g. `casparian env gc`) or another manager sees the env as in
 * use. Files of dead pids are ignored and removed.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pidAlive } from './file-lock';

export class EnvLeases {
  private readonly counts = new Map<string, number>();
  private readonly dir: string;
  private readonly instance = crypto.randomBytes(4).toString('hex');

  constructor(venvs: string) {
    this.dir = path.join(venvs, '.leases');
  }

  count(envHash: string): number {
    return this.counts.get(envHash) ?? 0;
  }

  take(envHash: string): void {
    const n = this.count(envHash) + 1;
    this.counts.set(envHash, n);
    if (n === 1) {
      try {
        fs.mkdirSync(this.dir, { recursive: true });
        fs.writeFileSync(this.file(envHash), '');
      } catch {
        /* best effort: in-process protection still holds */
      }
    }
  }

  drop(envHash: string): void {
    const n = this.count(envHash) - 1;
    if (n > 0) {
      this.counts.set(envHash, n);
      return;
    }
    this.counts.delete(envHash);
    fs.rmSync(this.file(envHash), { force: true });
  }

  /** Leases held by live processes on this host, this one included. */
  heldAnywhere(envHash: string): boolean {
    if (this.count(envHash) > 0) return true;
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return false;
    }
    const mine = path.basename(this.file(envHash));
    for (const n of names) {
      const m = /^([0-9a-f]{64})@(\d+)\.[0-9a-f]+$/.exec(n);
      if (!m || m[1] !== envHash || n === mine) continue;
      if (pidAlive(Number(m[2]))) return true;
      fs.rmSync(path.join(this.dir, n), { force: true }); // a dead process's
    }
    return false;
  }

  private file(envHash: string): string {
    return path.join(this.dir, `${envHash}@${process.pid}.${this.instance}`);
  }
}
