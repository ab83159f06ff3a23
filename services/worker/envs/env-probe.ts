/**
 * Checks that an interpreter runs and (for envs) imports pyarrow, the bridge's
 * only hard dependency. Runs with `-I` (isolated mode) so PYTHONPATH or user
 * site-packages on the host cannot make a broken env look good.
 */
import { capture, SpawnFn } from './run-command';

export interface ProbeResult {
  ok: boolean;
  pythonVersion?: string;
  pyarrowVersion?: string;
  /** Why the probe failed, with the interpreter's own words. */
  problem?: string;
}

const PROBE = [
  'import json, platform, sys',
  'out = {"python": platform.python_version(), "prefix": sys.prefix}',
  'try:',
  '    import pyarrow',
  '    out["pyarrow"] = pyarrow.__version__',
  'except Exception as e:',
  '    out["error"] = "%s: %s" % (type(e).__name__, e)',
  'print(json.dumps(out))',
].join('\n');

export interface ProbeDeps {
  env: NodeJS.ProcessEnv;
  spawn?: SpawnFn;
  timeoutMs?: number;
}

/** Strips variables that would let a host setting leak into an env's interpreter. */
export function cleanPythonEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const k of ['PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP', 'PYTHONUSERBASE', 'VIRTUAL_ENV', 'CONDA_PREFIX', '__PYVENV_LAUNCHER__']) {
    delete out[k];
  }
  return out;
}

/** Interpreter runs and imports pyarrow. */
export async function probeEnvPython(python: string, deps: ProbeDeps): Promise<ProbeResult> {
  const r = await capture(python, ['-I', '-c', PROBE], {
    env: cleanPythonEnv(deps.env),
    timeoutMs: deps.timeoutMs ?? 60_000,
    spawn: deps.spawn,
  });
  if (!r.ok) return { ok: false, problem: `interpreter ${python} does not run: ${describeFailure(r)}` };
  let parsed: { python?: string; pyarrow?: string; error?: string };
  try {
    parsed = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as typeof parsed;
  } catch {
    return { ok: false, problem: `interpreter ${python} printed unexpected output: ${r.output.trim().slice(0, 500)}` };
  }
  if (!parsed.pyarrow) {
    return {
      ok: false,
      pythonVersion: parsed.python,
      problem: `python ${parsed.python ?? '?'} at ${python} cannot import pyarrow (${parsed.error ?? 'unknown error'})`,
    };
  }
  return { ok: true, pythonVersion: parsed.python, pyarrowVersion: parsed.pyarrow };
}

/** Version of a base interpreter (no pyarrow needed). */
export async function probeBasePython(
  python: string,
  deps: ProbeDeps,
): Promise<{ ok: true; version: string } | { ok: false; problem: string }> {
  const r = await capture(python, ['-I', '-c', 'import platform; print(platform.python_version())'], {
    env: cleanPythonEnv(deps.env),
    timeoutMs: deps.timeoutMs ?? 30_000,
    spawn: deps.spawn,
  });
  if (!r.ok) return { ok: false, problem: `base interpreter "${python}" does not run: ${describeFailure(r)}` };
  return { ok: true, version: r.stdout.trim() };
}

function describeFailure(r: Awaited<ReturnType<typeof capture>>): string {
  if (r.result.spawnError) return (r.result.spawnError as NodeJS.ErrnoException).code ?? r.result.spawnError.message;
  if (r.result.timedOut) return 'timed out';
  const out = r.output.trim();
  return `exit ${r.result.code ?? r.result.signal}${out ? `: ${out.slice(-800)}` : ''}`;
}
