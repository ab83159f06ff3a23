/**
 * `npm run demo`: the main job, end to end, on the embedded default.
 *  1. starts a Sentinel (SQLite in a fresh data dir) and a Worker in this process;
 *  2. publishes examples/plugins/sales_orders.py, whose lockfile pins pyarrow;
 *  3. the worker provisions that env (first run only; later runs reuse it);
 *  4. submits every file in examples/data/ in one SubmitJobs call;
 *  5. shows progress from one WatchJobs stream;
 *  6. prints a per-job summary and a preview of real output rows;
 *  7. exits 0 when every job succeeded.
 * Set CASPARIAN_HOME to keep the env elsewhere than ~/.casparian_flow.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileLogger, compileSentinelConfig, compileWorkerConfig } from '../services/common/config';
import { Sentinel } from '../services/sentinel/sentinel';
import { Worker } from '../services/worker/worker';
import { JobState } from '../services/gen/casparian/v1/types';
import { batchJobs, finalOf, followBatches, submitBatches } from './cli/batches';
import { SentinelClient } from './cli/client';
import { stateName, table } from './cli/format';
import { ProgressView } from './cli/progress';
import { renderTable } from './render-arrow';

const ROOT = path.resolve(__dirname, '..', '..');
const say = (s: string): void => void process.stdout.write(s + '\n');

async function main(): Promise<number> {
  const t0 = Date.now();
  const env = process.env;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-demo-'));
  const logger = compileLogger({ 'log-level': env.CASPARIAN_LOG_LEVEL ?? 'warn' }, env, {});
  const sentinel = await Sentinel.open(compileSentinelConfig({ 'data-dir': dataDir, port: '0', 'input-root': path.join(ROOT, 'examples') }, env), logger, undefined, env);
  const port = await sentinel.start();
  // The demo publishes its plugin unsigned: the worker runs with the development flag (README "Signing plugins").
  const worker = new Worker(compileWorkerConfig({ sentinel: `127.0.0.1:${port}`, 'worker-port': '-1', 'allow-unsigned': true }, env), logger, env);
  await worker.start();
  say(`▶ sentinel on 127.0.0.1:${port} (data ${dataDir}); worker ${worker.cfg.workerId} with ${worker.cfg.slots} slots, envs in ${worker.cfg.home}/venvs`);

  const client = new SentinelClient(`127.0.0.1:${port}`);
  try {
    const plugin = path.join(ROOT, 'examples', 'plugins', 'sales_orders.py');
    const lock = path.join(ROOT, 'examples', 'plugins', 'requirements.lock');
    const pub = await client.publishPlugin({
      name: 'sales_orders',
      version: '1.0.0',
      source: fs.readFileSync(plugin, 'utf8'),
      lockfile: fs.readFileSync(lock, 'utf8'),
      manifest: { description: 'clean messy store sales exports', envAllow: [], maxAttempts: 0, timeouts: undefined, isolation: '', maxConcurrency: 0 },
    });
    const envHash = pub.plugin!.envHash;
    const hasEnv = worker.envs.inventory().some((e) => e.envHash === envHash && e.status === 'ready');
    say(`▶ published sales_orders@1.0.0 (env ${envHash.slice(0, 12)}: ${hasEnv ? 'already on this worker' : 'the worker will provision it from the lockfile'})`);

    const dataRoot = path.join(ROOT, 'examples', 'data');
    const files = fs.readdirSync(dataRoot).filter((f) => f.endsWith('.csv')).sort();
    const [batch] = await submitBatches(client, { pluginName: 'sales_orders' }, files.map((f) => path.join(dataRoot, f)));
    say(`▶ submitted ${batch.jobIds.length} jobs in one SubmitJobs call (batch ${batch.batchId.slice(0, 8)}); following them on one WatchJobs stream`);

    const tRun = Date.now();
    const view = new ProgressView({ tty: false, everyMs: 0, write: (line) => say(`  [${((Date.now() - tRun) / 1000).toFixed(1).padStart(5)} s] ${line.trimEnd()}`) });
    let shownDone = -1;
    let envLogged = hasEnv;
    await followBatches(client, [batch.batchId], (n) => {
      if (!envLogged && n.running > 0) {
        say('  provisioning the Python env (venv + pip, or uv when on PATH) — one install, shared by all jobs…');
        envLogged = true;
      }
      if (finalOf(n) === shownDone) return; // one line per finished job, not per state change
      shownDone = finalOf(n);
      view.update(n);
    });
    const elapsed = (Date.now() - tRun) / 1000;

    const finals = await batchJobs(client, batch.batchId);
    say('\n▶ per-job summary');
    say(
      table([
        ['FILE', 'STATE', 'ORDERS', 'REJECTS', 'MS', 'ENV'],
        ...finals.map((j) => {
          const rows = (n: string): string => String(j.outputs.find((o) => o.name === n)?.rows ?? '-');
          return [
            path.basename(j.inputPath),
            stateName(j.state) + (j.error && j.state !== JobState.JOB_STATE_SUCCEEDED ? ` ${j.error.code}: ${j.error.message}` : ''),
            rows('orders'),
            rows('rejects'),
            String(j.metrics?.durationMs ?? ''),
            j.metrics?.envProvisioned ? `provisioned ${(j.metrics.envMs / 1000).toFixed(1)} s` : '',
          ];
        }),
      ]),
    );
    const ok = finals.filter((j) => j.state === JobState.JOB_STATE_SUCCEEDED);
    const provisioned = finals.find((j) => j.metrics?.envProvisioned);
    const totalRows = ok.reduce((n, j) => n + (j.outputs.find((o) => o.name === 'orders')?.rows ?? 0), 0);
    say(
      `\n${ok.length}/${finals.length} jobs succeeded, ${totalRows} order rows, in ${elapsed.toFixed(1)} s (${(finals.length / elapsed).toFixed(1)} jobs/s` +
        `${provisioned ? `, env provisioned in ${(provisioned.metrics!.envMs / 1000).toFixed(1)} s` : ', env reused'})`,
    );
    if (ok.length) {
      const first = ok[0];
      const orders = await client.fetchOutput(first.id, 'orders');
      say(`\n▶ preview of ${path.basename(first.inputPath)} → output "orders" (FetchOutput, Arrow IPC):`);
      say(renderTable(orders.ipc, { maxRows: 8, hideLineage: true }));
      const rejects = await client.fetchOutput(first.id, 'rejects');
      say(`\n▶ rejected rows of ${path.basename(first.inputPath)} → output "rejects":`);
      say(renderTable(rejects.ipc, { maxRows: 5, hideLineage: true }));
    }
    const failed = finals.filter((j) => j.state !== JobState.JOB_STATE_SUCCEEDED);
    for (const j of failed) {
      say(`\n✗ ${j.id} ${path.basename(j.inputPath)}: ${j.error?.message ?? stateName(j.state)}`);
      if (j.error?.traceback) say(j.error.traceback);
    }
    say(`\ndone in ${((Date.now() - t0) / 1000).toFixed(1)} s. Try: casparian start --allow-unsigned, then casparian publish/submit/jobs (see README; sign plugins with casparian keygen and publish --sign-key).`);
    return failed.length ? 1 : 0;
  } finally {
    client.close();
    await worker.shutdown(2_000);
    await sentinel.shutdown(2_000);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`demo failed: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
