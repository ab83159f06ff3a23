/**
 * Row 7a, cold provision: the worker's EnvManager building the env of the
 * bench lockfile (made new by a comment line, in an empty home) against a
 * plain `python -m venv` + `pip install -r` of the same lockfile from the
 * same index, same run. The two alternate, `scale.provisions` times each;
 * each side's median counts.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { indexArgs, runOrThrow } from '../commands';
import { acquireEnv } from '../envs';
import { median, secs, timed } from '../stats';
import type { BenchContext, Row, RowGroup } from '../types';

/** One EnvManager provision in an empty home: [ms, backend]. */
async function viaEnvManager(ctx: BenchContext, dir: string): Promise<[number, string]> {
  const lockText = `# bench cold provision ${crypto.randomUUID()}\n${ctx.lockfile}`;
  const [lease, ms] = await timed(() => acquireEnv(path.join(dir, 'home'), ctx.indexUrl, lockText));
  if (!lease.provisioned) throw new Error('the cold provision found the env already there');
  return [ms, lease.backend];
}

/** One plain venv + pip install -r of the same lockfile: ms. */
async function viaPlainPip(ctx: BenchContext, dir: string): Promise<number> {
  const lockFile = path.join(dir, 'requirements.txt');
  fs.writeFileSync(lockFile, `# bench cold provision ${crypto.randomUUID()}\n${ctx.lockfile}`);
  const venv = path.join(dir, 'plain-venv');
  const logFile = path.join(ctx.work, 'logs', 'provision-plain.log');
  const t0 = performance.now();
  await runOrThrow(process.env.CASPARIAN_PYTHON ?? 'python3', ['-m', 'venv', venv], { logFile, timeoutMs: 300_000 });
  await runOrThrow(path.join(venv, 'bin', 'python'), ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '-r', lockFile, ...indexArgs(ctx.indexUrl)], {
    logFile,
    timeoutMs: 1_200_000,
  });
  return performance.now() - t0;
}

export const provisionGroup: RowGroup = {
  name: 'provision',
  rows: '7a',
  perVariant: false,
  async run(ctx): Promise<Row[]> {
    const env: number[] = [];
    const plain: number[] = [];
    let backend = '';
    for (let i = 0; i < ctx.scale.provisions; i++) {
      const dir = path.join(ctx.work, `provision-${i}`);
      fs.mkdirSync(dir, { recursive: true });
      const [ms, b] = await viaEnvManager(ctx, dir);
      env.push(ms);
      backend = b;
      plain.push(await viaPlainPip(ctx, dir));
      fs.rmSync(dir, { recursive: true, force: true });
      ctx.say(`  EnvManager (${backend}) ${secs(ms)}, plain venv + pip ${secs(plain[i])}`);
    }
    return [
      {
        id: '7a',
        title: 'cold provision of a lockfile',
        unit: 's',
        better: 'lower',
        value: median(env) / 1000,
        reference: median(plain) / 1000,
        refLabel: 'python -m venv + pip install -r, same lockfile and index',
        note: `median of ${env.length}, alternating; EnvManager backend ${backend}; lockfile: ${ctx.lockfile.trim().split('\n').join(' ')}`,
        detail: { envManagerMs: env, plainMs: plain },
      },
    ];
  },
};
