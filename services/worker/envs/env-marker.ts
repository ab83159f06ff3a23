/**
 * The marker file makes a directory an environment. It is written last, after
 * the interpreter has been seen to run and import pyarrow, and a directory
 * without a valid marker is never used.
 *
 * Location: `${env}/.casparian-env.json` for envs we built; for linked envs
 * (`${venvs}/${hash}` is a symlink to a directory we do not own) it lives at
 * `${venvs}/.links/${hash}.json`, so linking never writes into the user's venv.
 * The marker's mtime is the env's last use (touched on acquire/release).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { envHashOf } from './env-hash';

export const MARKER_FILE = '.casparian-env.json';
export const MARKER_FORMAT = 1;

export type EnvBackend = 'uv' | 'pip' | 'linked';

export interface EnvMarker {
  formatVersion: number;
  envHash: string;
  backend: EnvBackend;
  pythonVersion: string;
  pyarrowVersion: string;
  createdAt: string;
  /** The interpreter the env was created from (or the linked directory for `linked`). */
  basePython?: string;
  linkedTo?: string;
  installMs?: number;
  lockfileKind?: string;
  /** A copy of the lockfile; absent only for linked envs. */
  lockfile?: string;
}

export function markerPath(venvsDir: string, envHash: string): string {
  const entry = path.join(venvsDir, envHash);
  return isSymlink(entry) ? path.join(venvsDir, '.links', `${envHash}.json`) : path.join(entry, MARKER_FILE);
}

export function isSymlink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

export type MarkerRead = { ok: true; marker: EnvMarker; mtimeMs: number } | { ok: false; problem: string };

/** Reads and validates the marker of `${venvsDir}/${envHash}`. */
export function readMarker(venvsDir: string, envHash: string): MarkerRead {
  const entry = path.join(venvsDir, envHash);
  if (!fs.existsSync(entry)) {
    return { ok: false, problem: isSymlink(entry) ? `linked directory ${fs.readlinkSync(entry)} is gone` : 'not present' };
  }
  const file = markerPath(venvsDir, envHash);
  let raw: string;
  let mtimeMs: number;
  try {
    raw = fs.readFileSync(file, 'utf8');
    mtimeMs = fs.statSync(file).mtimeMs;
  } catch {
    return { ok: false, problem: `no marker (${path.basename(file)}): the env was never completed` };
  }
  let m: EnvMarker;
  try {
    m = JSON.parse(raw) as EnvMarker;
  } catch {
    return { ok: false, problem: 'marker is not valid JSON' };
  }
  if (m.formatVersion !== MARKER_FORMAT) return { ok: false, problem: `unknown marker format ${String(m.formatVersion)}` };
  if (m.envHash !== envHash) return { ok: false, problem: `marker names env ${String(m.envHash)}` };
  if (m.backend !== 'linked' && (typeof m.lockfile !== 'string' || envHashOf(m.lockfile) !== envHash)) {
    return { ok: false, problem: 'marker lockfile does not hash to the env hash' };
  }
  if (!fs.existsSync(path.join(entry, 'bin', 'python'))) return { ok: false, problem: 'bin/python is missing' };
  return { ok: true, marker: m, mtimeMs };
}

/** Writes a marker atomically (temp file + rename) into `file`. */
export function writeMarker(file: string, marker: EnvMarker): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(marker, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

/** Records a use of the env (best effort). */
export function touchMarker(venvsDir: string, envHash: string, at: Date): void {
  try {
    fs.utimesSync(markerPath(venvsDir, envHash), at, at);
  } catch {
    /* the env may have been evicted meanwhile */
  }
}
