/**
 * Chooses and starts the Sentinel's commit writer, once, at startup (never
 * per commit):
 *
 *   pyarrow  the Parquet helper (pyarrow-writer.ts) in an env built from
 *            services/sentinel/py/helper.lock by the worker's EnvManager under
 *            `${home}/venvs`, like any plugin env; the helper's start proves
 *            the env works (it imports pyarrow). Startup fails without it.
 *   wasm     parquet-wasm in a worker thread (wasm-writer.ts).
 *   auto     pyarrow when it can be had, else wasm (and a warning says why).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CommitWriterSettings } from '../../common/config';
import type { Logger } from '../../common/logger';
import { EnvManager } from '../../worker/envs/env-manager';
import { envHashOf } from '../../worker/envs/env-hash';
import type { OutputWriterFactory } from './output-writer';
import { readIpcWithHelper } from './helper-reader';
import { ParquetHelper } from './parquet-helper';
import { PyarrowWriterFactory } from './pyarrow-writer';
import { WasmWriterFactory } from './wasm-writer';

export const HELPER_LOCKFILE = path.resolve(__dirname, '..', '..', '..', '..', 'services', 'sentinel', 'py', 'helper.lock');

/** Unix socket paths are limited to ~107 bytes; a long data dir gets a socket in the temp dir. */
function socketPath(dataDir: string): string {
  const inData = path.join(dataDir, 'run', 'parquet-helper.sock');
  if (inData.length < 100) {
    fs.mkdirSync(path.dirname(inData), { recursive: true });
    return inData;
  }
  return path.join(os.tmpdir(), `casparian-ph-${process.pid}-${crypto.randomBytes(4).toString('hex')}.sock`);
}

async function startPyarrow(cfg: CommitWriterSettings, dataDir: string, logger: Logger, hostEnv: Readonly<NodeJS.ProcessEnv>): Promise<OutputWriterFactory> {
  const lockfile = fs.readFileSync(HELPER_LOCKFILE, 'utf8');
  const manager = new EnvManager(
    { home: cfg.home, mode: 'auto', basePython: cfg.basePython, indexUrl: cfg.indexUrl, installTimeoutMs: cfg.installTimeoutMs, lockWaitTimeoutMs: cfg.installTimeoutMs, failureCacheMs: 0, logger },
    { env: hostEnv },
  );
  const lease = await manager.acquire(envHashOf(lockfile), lockfile);
  const helper = new ParquetHelper(lease.python, socketPath(dataDir), logger.scope({ component: 'parquet-helper' }));
  try {
    await helper.start();
  } catch (err) {
    lease.release();
    throw err;
  }
  logger.info('commit writer: pyarrow helper', { pyarrow: helper.pyarrowVersion, envProvisioned: lease.provisioned, pid: helper.pid });
  const factory = new PyarrowWriterFactory(helper);
  return {
    kind: factory.kind,
    appliesRules: factory.appliesRules,
    open: (stem, options) => factory.open(stem, options),
    readIpc: (parquetPath) => readIpcWithHelper(helper, parquetPath),
    close: async () => {
      await factory.close();
      lease.release(); // held while the helper runs, so env gc never evicts it
    },
  };
}

export async function openCommitWriters(
  cfg: CommitWriterSettings,
  dataDir: string,
  logger: Logger,
  hostEnv: Readonly<NodeJS.ProcessEnv>,
): Promise<OutputWriterFactory> {
  if (cfg.mode !== 'wasm') {
    try {
      return await startPyarrow(cfg, dataDir, logger, hostEnv);
    } catch (err) {
      if (cfg.mode === 'pyarrow') throw err;
      logger.warn('commit writer: no pyarrow helper; outputs are converted by parquet-wasm in a worker thread (slower, no lineage columns, and jobs of plugins that declare OUTPUTS fail with CONTRACT_UNSUPPORTED)', { error: (err as Error).message });
    }
  }
  if (cfg.mode === 'wasm') logger.info('commit writer: parquet-wasm in a worker thread (no lineage columns; plugins that declare OUTPUTS fail with CONTRACT_UNSUPPORTED)');
  return new WasmWriterFactory(1);
}
