/**
 * The fallback backend: `BASE -m venv ENV` then `ENV/bin/python -m pip install -r LOCK`.
 * pip runs as `python -m pip` so it keeps working after the env is renamed
 * (venv bin/ scripts hard-code the build path; bin/python does not care).
 * pip's own configuration (pip.conf, PIP_* variables) applies untouched;
 * `--index-url` is added only when configured.
 */
import * as path from 'node:path';
import type { InstallPlan, PlanInput } from './install-plan';

export function planPip(input: PlanInput): InstallPlan {
  if (input.info.kind === 'uv-lock') {
    throw new Error(
      'this lockfile is a uv.lock, which pip cannot install and uv is not on PATH; install uv on the worker ' +
        'or publish a requirements lockfile (`uv export --format requirements-txt`)',
    );
  }
  const lockPath = path.join(input.workDir, 'requirements.txt');
  const python = path.join(input.envDir, 'bin', 'python');
  const args = ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '-r', lockPath];
  if (input.info.hasHashes) args.push('--require-hashes');
  if (input.indexUrl) args.push('--index-url', input.indexUrl);
  return {
    backend: 'pip',
    files: [{ path: lockPath, content: input.lockfile }],
    steps: [
      { command: input.basePython, args: ['-m', 'venv', input.envDir] },
      { command: python, args },
    ],
  };
}
