/**
 * Bring your own environment: `${venvs}/${hash}` becomes a symlink to an
 * existing venv directory (the whole directory, so the interpreter finds its
 * pyvenv.cfg and site-packages). The venv is checked first (its python runs
 * and imports pyarrow); its marker goes to `.links/{hash}.json`, then the
 * symlink is swapped in atomically (symlink to a temp name + rename).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isEnvHash } from './env-hash';
import { EnvMarker, MARKER_FORMAT, readMarker, writeMarker } from './env-marker';
import type { EnvPaths } from './env-paths';
import { probeEnvPython, ProbeDeps } from './env-probe';

/** A link was refused; `reason` says why. */
export class EnvLinkRefused extends Error {
  constructor(
    readonly envHash: string,
    readonly reason: string,
  ) {
    super(`refusing to link env ${envHash}: ${reason}`);
    this.name = 'EnvLinkRefused';
  }
}

export async function linkEnv(paths: EnvPaths, envHash: string, venvDir: string, deps: ProbeDeps & { now: number }): Promise<EnvMarker> {
  if (!isEnvHash(envHash)) throw new EnvLinkRefused(envHash, 'the env hash must be 64 lowercase hex characters (sha256 of the lockfile)');
  const target = path.resolve(venvDir);
  if (!fs.existsSync(target) || !fs.statSync(target).isDirectory()) throw new EnvLinkRefused(envHash, `${target} is not a directory`);
  if (target === paths.env(envHash) || target.startsWith(paths.venvs + path.sep)) {
    throw new EnvLinkRefused(envHash, `${target} is inside the managed venvs directory`);
  }
  const python = path.join(target, 'bin', 'python');
  if (!fs.existsSync(python)) throw new EnvLinkRefused(envHash, `${python} does not exist (is ${target} a virtual environment?)`);
  const probe = await probeEnvPython(python, deps);
  if (!probe.ok) throw new EnvLinkRefused(envHash, probe.problem ?? 'its interpreter failed the check');

  const entry = paths.env(envHash);
  const existing = fs.lstatSync(entry, { throwIfNoEntry: false });
  if (existing) {
    const cur = readMarker(paths.venvs, envHash);
    if (cur.ok) throw new EnvLinkRefused(envHash, `env ${envHash} already exists (backend ${cur.marker.backend}); evict it first`);
  }

  const marker: EnvMarker = {
    formatVersion: MARKER_FORMAT,
    envHash,
    backend: 'linked',
    pythonVersion: probe.pythonVersion!,
    pyarrowVersion: probe.pyarrowVersion!,
    createdAt: new Date(deps.now).toISOString(),
    linkedTo: target,
  };
  fs.mkdirSync(paths.venvs, { recursive: true });
  writeMarker(paths.linkMarker(envHash), marker);
  if (existing && !existing.isSymbolicLink()) {
    // a broken (marker-less) directory: move it away first, a symlink cannot replace a directory by rename
    const trash = paths.newTrash(envHash);
    fs.renameSync(entry, trash);
    fs.rmSync(trash, { recursive: true, force: true });
  }
  const tmpLink = `${entry}.link-${process.pid}`;
  fs.rmSync(tmpLink, { force: true });
  fs.symlinkSync(target, tmpLink, 'dir');
  fs.renameSync(tmpLink, entry);
  return marker;
}
