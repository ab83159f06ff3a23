/**
 * Diagnoses a host (base interpreter, venv module, uv, home writable, index
 * reachable, disk space) or one env (present, marker valid, interpreter runs,
 * imports pyarrow). Each check says what it saw; `ok` is false if any failed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isEnvHash } from './env-hash';
import { readMarker } from './env-marker';
import type { EnvPaths } from './env-paths';
import { cleanPythonEnv, probeBasePython, probeEnvPython } from './env-probe';
import { capture, SpawnFn } from './run-command';

export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface DoctorDeps {
  paths: EnvPaths;
  basePython: string;
  indexUrl?: string;
  env: NodeJS.ProcessEnv;
  spawn?: SpawnFn;
  which: (name: string) => string | undefined;
  /** Reachability of an http(s) index; injectable for tests. */
  fetchUrl?: (url: string, timeoutMs: number) => Promise<number>;
}

export async function doctorHost(d: DoctorDeps): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const base = await probeBasePython(d.basePython, { env: d.env, spawn: d.spawn });
  checks.push(base.ok ? { name: 'python', ok: true, detail: `${d.basePython} is Python ${base.version}` } : { name: 'python', ok: false, detail: base.problem });
  if (base.ok) {
    const venv = await capture(d.basePython, ['-I', '-c', 'import venv, ensurepip'], { env: cleanPythonEnv(d.env), timeoutMs: 30_000, spawn: d.spawn });
    checks.push({
      name: 'venv-module',
      ok: venv.ok,
      detail: venv.ok ? 'venv and ensurepip are available' : `${d.basePython} lacks venv/ensurepip (on Debian: apt install python3-venv): ${venv.output.trim().split('\n').pop() ?? ''}`,
    });
  }
  const uv = d.which('uv');
  checks.push({ name: 'uv', ok: true, detail: uv ? `uv found at ${uv}; it is used to provision` : 'uv not on PATH; venv + pip is used (slower, still correct)' });
  checks.push(homeWritable(d.paths));
  if (d.indexUrl) checks.push(await indexReachable(d.indexUrl, d.fetchUrl));
  else checks.push({ name: 'index', ok: true, detail: "no --index-url configured; pip's/uv's own configuration applies" });
  checks.push(diskSpace(d.paths));
  return checks;
}

export async function doctorEnv(d: DoctorDeps, envHash: string): Promise<DoctorCheck[]> {
  if (!isEnvHash(envHash)) return [{ name: 'hash', ok: false, detail: `"${envHash}" is not a sha256 hex env hash` }];
  const dir = d.paths.env(envHash);
  const checks: DoctorCheck[] = [];
  const present = fs.existsSync(dir);
  checks.push({ name: 'present', ok: present, detail: present ? dir : `${dir} does not exist (provision with \`casparian env provision\` or \`casparian env link\`)` });
  if (!present) return checks;
  const m = readMarker(d.paths.venvs, envHash);
  checks.push(
    m.ok
      ? { name: 'marker', ok: true, detail: `backend ${m.marker.backend}, created ${m.marker.createdAt}${m.marker.linkedTo ? `, linked to ${m.marker.linkedTo}` : ''}` }
      : { name: 'marker', ok: false, detail: `${m.problem}; the env is not used (auto mode rebuilds it, or evict it with gc)` },
  );
  const probe = await probeEnvPython(d.paths.python(envHash), { env: d.env, spawn: d.spawn });
  checks.push(
    probe.ok
      ? { name: 'interpreter', ok: true, detail: `Python ${probe.pythonVersion} with pyarrow ${probe.pyarrowVersion}` }
      : { name: 'interpreter', ok: false, detail: probe.problem ?? 'failed' },
  );
  return checks;
}

function homeWritable(paths: EnvPaths): DoctorCheck {
  try {
    fs.mkdirSync(paths.venvs, { recursive: true });
    const probe = path.join(paths.venvs, `.doctor-${process.pid}`);
    fs.writeFileSync(probe, 'ok');
    fs.rmSync(probe);
    return { name: 'home', ok: true, detail: `${paths.venvs} is writable` };
  } catch (err) {
    return { name: 'home', ok: false, detail: `${paths.venvs} is not writable: ${(err as Error).message}` };
  }
}

function diskSpace(paths: EnvPaths): DoctorCheck {
  try {
    const st = fs.statfsSync(paths.venvs);
    const free = st.bavail * st.bsize;
    const gib = (free / 2 ** 30).toFixed(1);
    return { name: 'disk', ok: free > 1 * 2 ** 30, detail: `${gib} GiB free under ${paths.venvs}${free > 2 ** 30 ? '' : ' (a pyarrow env needs ~200 MiB; installs may fail)'}` };
  } catch (err) {
    return { name: 'disk', ok: false, detail: (err as Error).message };
  }
}

async function indexReachable(url: string, fetchUrl?: DoctorDeps['fetchUrl']): Promise<DoctorCheck> {
  if (url.startsWith('file://')) {
    const p = fileURLToPath(url);
    const ok = fs.existsSync(p);
    return { name: 'index', ok, detail: ok ? `${url} exists` : `${url}: ${p} does not exist` };
  }
  const get = fetchUrl ?? defaultFetch;
  try {
    const status = await get(url, 5000);
    const ok = status >= 200 && status < 400;
    return { name: 'index', ok, detail: `${url} answered HTTP ${status}` };
  } catch (err) {
    return { name: 'index', ok: false, detail: `${url} is unreachable: ${(err as Error).message}` };
  }
}

async function defaultFetch(url: string, timeoutMs: number): Promise<number> {
  const res = await fetch(url, { method: 'GET', signal: AbortSignal.timeout(timeoutMs) });
  await res.body?.cancel();
  return res.status;
}
