/** `casparian env list|provision|gc|link|doctor`: manage this host's Python environments directly. */
import * as fs from 'node:fs';
import { compileLogger, compileWorkerConfig, type Flags } from '../../services/common/config';
import { JobFailure } from '../../services/common/job-error';
import { EnvManager } from '../../services/worker/envs/env-manager';
import { envHashOf } from '../../services/worker/envs/env-hash';
import type { EnvInfo } from '../../services/worker/envs/types';
import { table } from './format';
import { UsageError, intFlag } from './usage';

type Env = Record<string, string | undefined>;
const out = (s: string): void => void process.stdout.write(s + '\n');

function mib(n?: number): string {
  return n === undefined ? '?' : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function envTable(envs: EnvInfo[]): string {
  return table([
    ['ENV', 'STATUS', 'BACKEND', 'PYTHON', 'PYARROW', 'SIZE', 'LAST USED', 'PROBLEM'],
    ...envs.map((e) => [e.envHash.slice(0, 16), e.status, e.backend, e.pythonVersion ?? '', e.pyarrowVersion ?? '', mib(e.sizeBytes), e.lastUsedAt ?? '', e.problem ?? '']),
  ]);
}

export async function envCommand(args: string[], flags: Flags, env: Env): Promise<number> {
  const cfg = compileWorkerConfig(flags, env);
  const logger = compileLogger(flags, env, { service: 'env' });
  const m = new EnvManager({
    home: cfg.home,
    mode: 'auto',
    basePython: cfg.basePython,
    indexUrl: cfg.indexUrl,
    installTimeoutMs: cfg.installTimeoutMs,
    lockWaitTimeoutMs: cfg.installTimeoutMs + 60_000,
    failureCacheMs: 0,
    logger,
    installEnvAllow: cfg.installEnvAllow,
  }, { env });
  const [sub, ...rest] = args;
  switch (sub) {
    case 'list': {
      const envs = await m.init();
      if (flags.json) out(JSON.stringify(envs, null, 2));
      else out(envs.length ? envTable(envs) : `no environments under ${m.venvsDir}`);
      return 0;
    }
    case 'provision': {
      if (!rest[0]) throw new UsageError('usage: casparian env provision LOCKFILE');
      await m.init();
      const lock = fs.readFileSync(rest[0], 'utf8');
      const hash = envHashOf(lock);
      try {
        const lease = await m.acquire(hash, lock, { log: (l) => out(l) });
        lease.release();
        out(`${lease.provisioned ? 'provisioned' : 'already present'} ${hash} (${lease.backend}, ${lease.durationMs} ms)`);
        return 0;
      } catch (err) {
        if (err instanceof JobFailure) {
          out(`${err.jobError.code}: ${err.message}`);
          if (err.jobError.traceback) out(err.jobError.traceback);
          return 1;
        }
        throw err;
      }
    }
    case 'gc': {
      await m.init();
      const res = await m.gc({
        maxBytes: intFlag(flags, 'max-bytes', 10 * 1024 ** 3),
        maxCount: intFlag(flags, 'max-count', 50),
        dryRun: Boolean(flags['dry-run']),
      });
      out(`${flags['dry-run'] ? 'would evict' : 'evicted'} ${res.evicted.length}, kept ${res.kept.length}`);
      if (res.evicted.length) out(envTable(res.evicted));
      return 0;
    }
    case 'link': {
      const [hash, dir] = rest;
      if (!hash || !dir) throw new UsageError('usage: casparian env link HASH VENV_DIR');
      await m.init();
      try {
        const e = await m.link(hash, dir);
        out(`linked ${e.envHash} → ${dir} (python ${e.pythonVersion ?? '?'}, pyarrow ${e.pyarrowVersion ?? '?'})`);
        return 0;
      } catch (err) {
        out(`refused: ${(err as Error).message}`);
        return 1;
      }
    }
    case 'doctor': {
      const res = await m.doctor(rest[0]);
      for (const c of res.checks) out(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}: ${c.detail}`);
      return res.ok ? 0 : 1;
    }
    default:
      throw new UsageError('usage: casparian env list|provision LOCKFILE|gc [--max-bytes N] [--max-count N] [--dry-run]|link HASH DIR|doctor [HASH]');
  }
}
