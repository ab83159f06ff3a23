/**
 * Row 7a, cold provision: the worker's EnvManager building the env of the
 * bench lockfile (made new by a comment line, in an empty home) against a
 * plain `python -m venv` + `pip install -r` of the same lockfile from the
 * same index, same run, one after the other.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { indexArgs, runOrThrow } from '../commands';
import { acquireEnv } from '../envs';
import { secs, timed } from '../stats';
import type { Row, RowGroup } from '../types';

export const provisionGroup: RowGroup = {
  name: 'provision',
  rows: '7a',
  perVariant: false,
  async run(ctx): Promise<Row[]> {
    const dir = path.join(ctx.work, 'provision');
    fs.mkdirSync(dir, { recursive: true });
    const lockText = `# bench cold provision ${crypto.randomUUID()}\n${ctx.lockfile}`;
    const [lease, envMs] = await timed(() => acquireEnv(path.join(dir, 'home'), ctx.indexUrl, lockText));
    if (!lease.provisioned) throw new Error('the cold provision found the env already there');
    ctx.say(`  EnvManager (${lease.backend}) ${secs(envMs)}; now plain venv + pip`);

    const lockFile = path.join(dir, 'requirements.txt');
    fs.writeFileSync(lockFile, lockText);
    const venv = path.join(dir, 'plain-venv');
    const logFile = path.join(ctx.work, 'logs', 'provision-plain.log');
    const base = process.env.CASPARIAN_PYTHON ?? 'python3';
    const t0 = performance.now();
    await runOrThrow(base, ['-m', 'venv', venv], { logFile, timeoutMs: 300_000 });
    await runOrThrow(path.join(venv, 'bin', 'python'), ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '-r', lockFile, ...indexArgs(ctx.indexUrl)], {
      logFile,
      timeoutMs: 1_200_000,
    });
    const plainMs = performance.now() - t0;
    fs.rmSync(dir, { recursive: true, force: true });
    return [
      {
        id: '7a',
        title: 'cold provision of a lockfile',
        unit: 's',
        better: 'lower',
        value: envMs / 1000,
        reference: plainMs / 1000,
        refLabel: 'python -m venv + pip install -r, same lockfile and index',
        note: `EnvManager backend ${lease.backend}; lockfile: ${ctx.lockfile.trim().split('\n').join(' ')}`,
      },
    ];
  },
};
