/**
 * What is on disk: the envs under `${home}/venvs`, each described from its
 * marker, optionally verified by running its interpreter (startup self-check).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isEnvHash } from './env-hash';
import { isSymlink, readMarker } from './env-marker';
import type { EnvPaths } from './env-paths';
import { probeEnvPython } from './env-probe';
import type { SpawnFn } from './run-command';
import type { EnvInfo } from './types';

export type StoredEnv = Omit<EnvInfo, 'inUse'>;

/** Env hashes present as directories or symlinks (with or without a valid marker). */
export function listEnvHashes(paths: EnvPaths): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(paths.venvs);
  } catch {
    return [];
  }
  return names.filter((n) => isEnvHash(n) && (isSymlink(path.join(paths.venvs, n)) || isDir(path.join(paths.venvs, n)))).sort();
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Describes one env from its marker; `verify` also runs its interpreter. */
export async function describeEnv(
  paths: EnvPaths,
  envHash: string,
  opts: { verify?: boolean; env: NodeJS.ProcessEnv; spawn?: SpawnFn; size?: boolean },
): Promise<StoredEnv> {
  const dir = paths.env(envHash);
  const read = readMarker(paths.venvs, envHash);
  const linked = isSymlink(dir);
  if (!read.ok) {
    return { envHash, path: dir, status: 'broken', backend: linked ? 'linked' : 'pip', problem: read.problem };
  }
  const m = read.marker;
  const info: StoredEnv = {
    envHash,
    path: dir,
    status: 'ready',
    backend: m.backend,
    pythonVersion: m.pythonVersion,
    pyarrowVersion: m.pyarrowVersion,
    createdAt: m.createdAt,
    lastUsedAt: new Date(read.mtimeMs).toISOString(),
  };
  if (opts.size !== false && !linked) info.sizeBytes = await dirSize(dir);
  if (opts.verify) {
    const probe = await probeEnvPython(paths.python(envHash), { env: opts.env, spawn: opts.spawn });
    if (!probe.ok) return { ...info, status: 'broken', problem: probe.problem };
    info.pythonVersion = probe.pythonVersion;
    info.pyarrowVersion = probe.pyarrowVersion;
  }
  return info;
}

/** Disk usage in bytes (allocated blocks), not following symlinks. */
export async function dirSize(dir: string): Promise<number> {
  let total = 0;
  const walk = async (p: string): Promise<void> => {
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(p, { withFileTypes: true });
    } catch {
      return;
    }
    await Promise.all(
      entries.map(async (e) => {
        const child = path.join(p, e.name);
        if (e.isDirectory()) return walk(child);
        try {
          const st = await fs.promises.lstat(child);
          total += st.blocks !== undefined ? st.blocks * 512 : st.size;
        } catch {
          /* vanished */
        }
      }),
    );
  };
  await walk(dir);
  return total;
}
