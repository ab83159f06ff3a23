/**
 * Remembers a failed install per env hash for a while, so a broken lockfile
 * does not cost one install per job. Kept in `${venvs}/.logs/${hash}.failure.json`
 * so that other worker processes on the host fail fast too.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JobError } from '../../common/job-error';

export interface CachedFailure {
  envHash: string;
  error: JobError;
  failedAt: number;
  until: number;
}

export class FailureCache {
  constructor(
    private readonly dir: string,
    private readonly ttlMs: number,
  ) {}

  private file(envHash: string): string {
    return path.join(this.dir, `${envHash}.failure.json`);
  }

  get(envHash: string, now: number): CachedFailure | undefined {
    if (this.ttlMs <= 0) return undefined;
    let f: CachedFailure;
    try {
      f = JSON.parse(fs.readFileSync(this.file(envHash), 'utf8')) as CachedFailure;
    } catch {
      return undefined;
    }
    if (f.envHash !== envHash || typeof f.until !== 'number' || now >= f.until) return undefined;
    return f;
  }

  record(envHash: string, error: JobError, now: number): CachedFailure | undefined {
    if (this.ttlMs <= 0) return undefined;
    const f: CachedFailure = { envHash, error, failedAt: now, until: now + this.ttlMs };
    fs.mkdirSync(this.dir, { recursive: true });
    const tmp = `${this.file(envHash)}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify(f));
    fs.renameSync(tmp, this.file(envHash));
    return f;
  }

  clear(envHash: string): void {
    fs.rmSync(this.file(envHash), { force: true });
  }
}
