/**
 * The preferred backend when `uv` is on PATH.
 *  - requirements lockfile: `uv venv ENV --python BASE`, then
 *    `uv pip sync LOCK --python ENV/bin/python [--require-hashes] [--index-url URL]`.
 *  - uv.lock: `uv sync --frozen --no-install-project --no-dev [--index-url URL]`
 *    run in a scratch project directory holding the uv.lock and a synthetic
 *    pyproject.toml, with `UV_PROJECT_ENVIRONMENT=ENV` and `--python BASE`.
 * uv's own configuration (uv.toml, UV_* variables) applies untouched.
 */
import * as path from 'node:path';
import type { InstallPlan, PlanInput } from './install-plan';
import { syntheticPyproject } from './lockfile-info';

export function planUv(uv: string, input: PlanInput): InstallPlan {
  const index = input.indexUrl ? ['--index-url', input.indexUrl] : [];
  if (input.info.kind === 'uv-lock') {
    const project = path.join(input.workDir, 'project');
    return {
      backend: 'uv',
      files: [
        { path: path.join(project, 'uv.lock'), content: input.lockfile },
        { path: path.join(project, 'pyproject.toml'), content: syntheticPyproject(input.info) },
      ],
      steps: [
        {
          command: uv,
          args: ['sync', '--frozen', '--no-install-project', '--no-dev', '--python', input.basePython, ...index],
          cwd: project,
          env: { UV_PROJECT_ENVIRONMENT: input.envDir },
        },
      ],
    };
  }
  const lockPath = path.join(input.workDir, 'requirements.txt');
  const python = path.join(input.envDir, 'bin', 'python');
  const sync = ['pip', 'sync', lockPath, '--python', python, ...index];
  if (input.info.hasHashes) sync.push('--require-hashes');
  return {
    backend: 'uv',
    files: [{ path: lockPath, content: input.lockfile }],
    steps: [
      { command: uv, args: ['venv', input.envDir, '--python', input.basePython] },
      { command: uv, args: sync },
    ],
  };
}
