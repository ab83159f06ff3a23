/**
 * Layout under `${home}/venvs`:
 *   {hash}/                 a ready env (marker inside) or a symlink (linked env)
 *   {hash}.lock             cross-process install lock (file-lock.ts)
 *   .tmp-{hash12}-{pid}-{r} work dir of an install in progress (env/ is renamed to {hash})
 *   .trash-{hash12}-{pid}-{r} an env being deleted (renamed away first, then removed)
 *   .links/{hash}.json      marker of a linked env
 *   .logs/{hash}.log        install log of the latest attempt
 *   .logs/{hash}.failure.json  cached failure
 *   .logs/installs.jsonl    one line per install start/finish (audit, counting)
 */
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import { shortHash } from './env-hash';

export class EnvPaths {
  readonly venvs: string;
  readonly logs: string;
  readonly links: string;
  constructor(home: string) {
    this.venvs = path.join(home, 'venvs');
    this.logs = path.join(this.venvs, '.logs');
    this.links = path.join(this.venvs, '.links');
  }
  env(envHash: string): string {
    return path.join(this.venvs, envHash);
  }
  python(envHash: string): string {
    return path.join(this.venvs, envHash, 'bin', 'python');
  }
  lock(envHash: string): string {
    return path.join(this.venvs, `${envHash}.lock`);
  }
  log(envHash: string): string {
    return path.join(this.logs, `${envHash}.log`);
  }
  linkMarker(envHash: string): string {
    return path.join(this.links, `${envHash}.json`);
  }
  journal(): string {
    return path.join(this.logs, 'installs.jsonl');
  }
  newTemp(envHash: string): string {
    return path.join(this.venvs, `.tmp-${shortHash(envHash)}-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  }
  newTrash(envHash: string): string {
    return path.join(this.venvs, `.trash-${shortHash(envHash)}-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  }
}

/** The owner pid encoded in a `.tmp-*` / `.trash-*` name, if any. */
export function scratchOwnerPid(name: string): number | undefined {
  const m = /^\.(?:tmp|trash)-[0-9a-f]+-(\d+)-[0-9a-f]+$/.exec(name);
  return m ? Number(m[1]) : undefined;
}
