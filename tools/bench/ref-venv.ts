/**
 * The reference venv the peers run in: pyarrow pinned as in the bench
 * lockfile (bench/plugins/pyarrow.lock), then Ray (bench/peers/requirements-ray.txt),
 * installed with plain venv + pip through pip's own configuration. Built
 * once and kept under the bench home, keyed by both files and the base
 * python, so later runs start at once. When Ray cannot be installed the venv
 * is kept without it and Ray's rows are skipped with the reason; without
 * pyarrow the bench cannot run at all.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { capture } from '../../services/worker/envs/run-command';
import { indexArgs, runOrThrow } from './commands';
import type { Peers } from './types';

interface Marker {
  raySkipped?: string;
}

const PROBE = `
import json, platform, pyarrow
v = {"python": platform.python_version(), "pyarrow": pyarrow.__version__}
try:
    import ray
    v["ray"] = ray.__version__
except Exception as e:
    v["ray_error"] = f"{type(e).__name__}: {e}"
print(json.dumps(v))
`;

async function probe(python: string, marker: Marker): Promise<Peers> {
  const r = await capture(python, ['-c', PROBE], { env: process.env, timeoutMs: 60_000 });
  if (!r.ok) throw new Error(`the reference venv's python (${python}) cannot import pyarrow:\n${r.output.trim()}`);
  const v = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, string>;
  const raySkipped = marker.raySkipped ?? (v.ray_error ? `ray cannot be imported: ${v.ray_error}` : undefined);
  delete v.ray_error;
  return { python, raySkipped, versions: v };
}

/** The peers' python from an existing venv (`--ref-venv DIR`). */
export function useRefVenv(dir: string): Promise<Peers> {
  return probe(path.join(path.resolve(dir), 'bin', 'python'), {});
}

/** The cached reference venv under `benchHome`, built first when missing. */
export async function ensureRefVenv(root: string, benchHome: string, indexUrl: string | undefined, say: (s: string) => void): Promise<Peers> {
  const pyarrowReq = path.join(root, 'bench', 'plugins', 'pyarrow.lock');
  const rayReq = path.join(root, 'bench', 'peers', 'requirements-ray.txt');
  const base = process.env.CASPARIAN_PYTHON ?? 'python3';
  const version = await capture(base, ['--version'], { env: process.env, timeoutMs: 30_000 });
  const key = crypto
    .createHash('sha256')
    .update(fs.readFileSync(pyarrowReq))
    .update(fs.readFileSync(rayReq))
    .update(version.stdout + version.output)
    .digest('hex')
    .slice(0, 12);
  const dir = path.join(benchHome, `ref-venv-${key}`);
  const markerFile = path.join(dir, '.bench-ref-venv.json');
  if (fs.existsSync(markerFile)) return probe(path.join(dir, 'bin', 'python'), JSON.parse(fs.readFileSync(markerFile, 'utf8')) as Marker);

  const tmp = `${dir}.tmp-${process.pid}`;
  const logFile = path.join(benchHome, 'logs', `ref-venv-${key}.log`);
  say(`building the reference venv (pyarrow, ray) in ${dir}; log ${logFile}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  const python = path.join(tmp, 'bin', 'python');
  const pip = (req: string) => runOrThrow(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '-r', req, ...indexArgs(indexUrl)], { logFile, timeoutMs: 1_200_000 });
  try {
    await runOrThrow(base, ['-m', 'venv', tmp], { logFile, timeoutMs: 120_000 });
    await pip(pyarrowReq);
    const marker: Marker = {};
    await pip(rayReq).catch((e: Error) => {
      marker.raySkipped = `ray could not be installed: ${e.message.split('\n').slice(-1)[0]}`;
      say(`  ${marker.raySkipped}`);
    });
    fs.writeFileSync(path.join(tmp, '.bench-ref-venv.json'), JSON.stringify(marker));
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
    return probe(path.join(dir, 'bin', 'python'), marker);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
