/**
 * `casparian start|sentinel|worker`: run services in this process until
 * SIGINT/SIGTERM. The first signal drains; a second one forces exit.
 */
import type { Registry } from 'prom-client';
import { compileLogger, compileSentinelConfig, compileWorkerConfig, type Flags, type MetricsEndpoint } from '../../services/common/config';
import { serveMetrics, type MetricsServer } from '../../services/common/metrics';
import type { Logger } from '../../services/common/logger';
import { Sentinel } from '../../services/sentinel/sentinel';
import { Worker } from '../../services/worker/worker';

type Env = Record<string, string | undefined>;

/** `casparian start` serves the web console here unless --http-port says otherwise (any free port if it is taken). */
export const START_HTTP_PORT = 50080;

export async function startSentinel(flags: Flags, env: Env, logger: Logger, defaultHttpPort?: number): Promise<Sentinel> {
  const s = await Sentinel.open(compileSentinelConfig(flags, env, {}, defaultHttpPort), logger, undefined, env);
  await s.start();
  return s;
}

export async function startWorker(flags: Flags, env: Env, logger: Logger, sentinelAddress?: string): Promise<Worker> {
  const cfg = compileWorkerConfig(flags, env, sentinelAddress ? { sentinels: [sentinelAddress] } : {});
  const w = new Worker(cfg, logger, env);
  await w.start();
  return w;
}

export function onSignals(logger: Logger, stop: () => Promise<void>): void {
  let signals = 0;
  const handler = (sig: string): void => {
    signals++;
    if (signals > 1) {
      logger.warn('second signal; exiting now', { signal: sig });
      process.exit(130);
    }
    logger.info('draining; send the signal again to force', { signal: sig });
    stop().then(
      () => process.exit(0),
      (err) => {
        logger.error('shutdown failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

export async function runServices(cmd: 'start' | 'sentinel' | 'worker', flags: Flags, env: Env): Promise<void> {
  const logger = compileLogger(flags, env, {}, cmd === 'start' ? 'client' : cmd);
  if (cmd === 'sentinel') {
    const s = await startSentinel(flags, env, logger);
    const m = await maybeServeMetrics(s.cfg.metrics, [s.metrics.registry], logger);
    onSignals(logger, async () => {
      await s.shutdown();
      await m?.close();
    });
    return;
  }
  if (cmd === 'worker') {
    const w = await startWorker(flags, env, logger);
    const m = await maybeServeMetrics(w.cfg.metrics, [w.metrics.registry], logger);
    onSignals(logger, async () => {
      await w.shutdown();
      await m?.close();
    });
    return;
  }
  const s = await startSentinel(flags, env, logger, START_HTTP_PORT);
  const w = await startWorker(flags, env, logger, `127.0.0.1:${s.port}`);
  // One process, one endpoint: both services' metrics together.
  const m = await maybeServeMetrics(s.cfg.metrics, [s.metrics.registry, w.metrics.registry], logger);
  process.stdout.write(`casparian running: sentinel on 127.0.0.1:${s.port}, worker ${w.cfg.workerId} with ${w.cfg.slots} slots\n`);
  if (s.httpUrl) process.stdout.write(`console: ${s.httpUrl}\n`);
  onSignals(logger, async () => {
    await w.shutdown();
    await s.shutdown();
    await m?.close();
  });
}

async function maybeServeMetrics(at: MetricsEndpoint, registries: Registry[], logger: Logger): Promise<MetricsServer | undefined> {
  if (at.port === undefined) return undefined;
  const m = await serveMetrics(registries, at.host, at.port);
  logger.info('metrics served', { url: `http://${at.host}:${m.port}/metrics` });
  return m;
}
