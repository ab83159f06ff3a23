/**
 * Rows 8a-8d, scanning a tree of N small files (100,000; quick 5,000) with
 * SubmitScan, on a Sentinel process whose worker has been stopped (the jobs
 * stay queued, so only the scan is measured; a paused plugin would not do:
 * with 100,000 paused jobs queued, every scheduler round walks them all):
 *   8a first scan, files/s (every file new: stat, sha256, one job each)
 *      against a plain Python os.walk + sha256 of every file;
 *   8b re-scan of the unchanged tree, files/s (stat only, nothing queued)
 *      against a plain Python os.walk + os.stat of every file;
 *   8c the Sentinel's peak RSS during the first scan (VmHWM reset before it,
 *      or the sampled VmRSS max) against its RSS just before;
 *   8d p99 latency of ListWorkers calls made every 20 ms during the first
 *      scan (is the event loop free for other RPCs?) against the same calls
 *      on the idle Sentinel just before.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SubmitScanResponse } from '../../../services/gen/casparian/v1/sentinel';
import type { SentinelClient } from '../../cli/client';
import { withCluster } from '../cluster';
import { pyPeer } from '../peers';
import { memOf, resetPeak, RssSampler } from '../proc-mem';
import { MB, quantile, secs, sleep } from '../stats';
import type { Row, RowGroup } from '../types';

const PLUGIN = 'bench_scan';
const PER_DIR = 1000;

interface WalkRef {
  seconds: number;
  files: number;
  maxrss_bytes: number;
}

/** N files of ~60 bytes in directories of PER_DIR. */
function makeTree(root: string, n: number): void {
  for (let i = 0; i < n; i++) {
    const dir = path.join(root, `d${String(Math.floor(i / PER_DIR)).padStart(4, '0')}`);
    if (i % PER_DIR === 0) fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `f${i}.csv`), `id,value\n${i},${i * 0.5}\n${i + 1},${i * 1.5}\n`);
  }
}

async function scanOnce(client: SentinelClient, root: string): Promise<{ summary: SubmitScanResponse; ms: number }> {
  const t0 = performance.now();
  let last: SubmitScanResponse | undefined;
  for await (const m of client.submitScan({ root, glob: '*.csv', pluginName: PLUGIN })) last = m;
  if (!last?.done) throw new Error('SubmitScan ended without a summary');
  return { summary: last, ms: performance.now() - t0 };
}

/** ListWorkers latencies (ms) every `everyMs` until `until` settles. */
async function probeLatency(client: SentinelClient, until: Promise<unknown>, everyMs: number): Promise<number[]> {
  let done = false;
  void until.finally(() => (done = true)).catch(() => undefined);
  const out: number[] = [];
  while (!done) {
    const t0 = performance.now();
    await client.listWorkers({});
    out.push(performance.now() - t0);
    await sleep(everyMs);
  }
  return out;
}

export const scanGroup: RowGroup = {
  name: 'scan',
  rows: '8a-8d',
  perVariant: false,
  async run(ctx, variant): Promise<Row[]> {
    const n = ctx.scale.scanFiles;
    return withCluster(ctx, { name: 'scan', variant }, async (c) => {
      const root = path.join(c.inputDir, 'tree');
      const t0 = Date.now();
      makeTree(root, n);
      ctx.say(`  ${n} files written in ${secs(Date.now() - t0)}; the plain Python walks first`);
      await c.publish(PLUGIN, 'trivial.py');
      await c.worker.stop(30_000);
      const hashRef = await pyPeer<WalkRef>(ctx, 'scan_walk.py', [root, 'hash']);
      const statRef = await pyPeer<WalkRef>(ctx, 'scan_walk.py', [root, 'stat']);
      if (hashRef.files !== n || statRef.files !== n) throw new Error(`the Python walk saw ${hashRef.files} and ${statRef.files} files, not ${n}`);

      const pid = c.sentinel.pid;
      const idleLatency: number[] = [];
      for (let i = 0; i < 50; i++) {
        const t = performance.now();
        await c.client.listWorkers({});
        idleLatency.push(performance.now() - t);
        await sleep(20);
      }
      const idleRss = memOf(pid)?.rssBytes ?? NaN;
      const reset = resetPeak(pid);
      const sampler = new RssSampler({ sentinel: pid }, 100);
      let first: { summary: SubmitScanResponse; ms: number };
      let busyLatency: number[];
      let hwm: number;
      let sampled: Record<string, number>;
      try {
        const scan = scanOnce(c.client, root);
        [first, busyLatency] = await Promise.all([scan, probeLatency(c.client, scan, 20)]);
        hwm = memOf(pid)?.hwmBytes ?? NaN;
      } finally {
        sampled = sampler.stop();
      }
      if (first.summary.enqueued !== n) throw new Error(`the first scan queued ${first.summary.enqueued} of ${n} files (${first.summary.errors} errors)`);
      ctx.say(`  first scan ${secs(first.ms)}; now the re-scan`);
      const again = await scanOnce(c.client, root);
      if (again.summary.skipped !== n || again.summary.enqueued !== 0) throw new Error(`the re-scan skipped ${again.summary.skipped} and queued ${again.summary.enqueued} of ${n}`);
      const peak = reset ? Math.max(hwm, sampled.sentinel) : sampled.sentinel;
      const tree = `${n} files of ~60 B in ${Math.ceil(n / PER_DIR)} dirs`;
      const p99 = (s: number[]) => quantile(s, 0.99);
      return [
        {
          id: '8a', title: 'first scan, files/s', unit: 'files/s', better: 'higher', value: n / (first.ms / 1000), reference: n / hashRef.seconds,
          refLabel: 'plain Python os.walk + sha256 of every file',
          note: `${tree}; SubmitScan call to summary, ${n} jobs queued (no worker connected)`, detail: { ms: first.ms, hashRef },
        },
        {
          id: '8b', title: 're-scan, unchanged, files/s', unit: 'files/s', better: 'higher', value: n / (again.ms / 1000), reference: n / statRef.seconds,
          refLabel: 'plain Python os.walk + os.stat of every file', note: `same tree, all ${n} skipped unread`, detail: { ms: again.ms, statRef },
        },
        {
          id: '8c', title: 'peak RSS during the first scan, Sentinel', unit: 'MB', better: 'lower', value: peak / MB, reference: idleRss / MB,
          refLabel: 'the same Sentinel just before the scan',
          note: `${reset ? 'VmHWM reset before the scan' : 'sampled VmRSS max'}; Python walk+hash peak RSS ${(hashRef.maxrss_bytes / MB).toFixed(0)} MB`,
          detail: { hwm, sampled: sampled.sentinel, idleRss },
        },
        {
          id: '8d', title: 'ListWorkers p99 during the first scan', unit: 'ms', better: 'lower', value: p99(busyLatency), reference: p99(idleLatency),
          refLabel: 'the same call on the idle Sentinel', note: `${busyLatency.length} calls during the scan, ${idleLatency.length} idle; max during ${Math.max(...busyLatency).toFixed(1)} ms`,
          detail: { busy: busyLatency, idle: idleLatency },
        },
      ];
    });
  },
};
