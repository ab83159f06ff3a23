/**
 * Row 7b, warm guest start per job: Worker.Run of bench/plugins/trivial.py on
 * a worker process with a warm env, one call at a time: env lookup, the
 * guest's start (today a spawn of `{env}/bin/python bridge_shim.py`; a fork
 * or a reused guest at other isolation levels), the one-row table and the
 * verdict, as the worker runs every job. Reference, same run: at spawn a bare
 * `{env}/bin/python -c "import pyarrow"` from start to exit; at fork and
 * reuse a forked child of a pyarrow-loaded Python writing the one-row table
 * to a pipe (bench/peers/forked_table.py), the floor of any forked guest.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { channelOptions } from '../../../services/common/grpc-server';
import { VerdictStatus } from '../../../services/gen/casparian/v1/dispatch';
import { RunRequest, WorkerClient, type RunResponse } from '../../../services/gen/casparian/v1/worker';
import { withCluster } from '../cluster';
import { runOrThrow } from '../commands';
import { pyPeer } from '../peers';
import { fmt, median, quantile } from '../stats';
import type { BenchContext, Row, RowGroup } from '../types';

const WARM_UP = 3;

async function runOnce(client: WorkerClient, source: string, lockfile: string, inputPath: string): Promise<number> {
  const t0 = performance.now();
  const call = client.run(RunRequest.fromPartial({ pluginName: 'bench_trivial', source, lockfile, inputPath }));
  let verdict: RunResponse['msg'] | undefined;
  for await (const m of call as AsyncIterable<RunResponse>) if (m.msg?.$case === 'verdict') verdict = m.msg;
  const took = performance.now() - t0;
  if (verdict?.$case !== 'verdict' || verdict.verdict.status !== VerdictStatus.VERDICT_STATUS_SUCCEEDED) {
    throw new Error(`Worker.Run of the trivial plugin did not succeed: ${JSON.stringify(verdict ?? 'no verdict')}`);
  }
  return took;
}

async function bareStarts(ctx: BenchContext, n: number): Promise<number[]> {
  const logFile = path.join(ctx.work, 'logs', 'bare-python.log');
  const out: number[] = [];
  for (let i = -WARM_UP; i < n; i++) {
    const took = await runOrThrow(ctx.envPython, ['-c', 'import pyarrow'], { logFile, timeoutMs: 60_000 });
    if (i >= 0) out.push(took);
  }
  return out;
}

/** The reference for a level: a bare interpreter start for spawn, a forked child for the levels that fork. */
async function reference(ctx: BenchContext, level: string, n: number): Promise<{ label: string; samples: number[]; detail: object }> {
  if (level === 'spawn') return { label: 'bare {env}/bin/python -c "import pyarrow"', samples: await bareStarts(ctx, n), detail: {} };
  const r = await pyPeer<{ tableMs: number[]; bareForkMs: number[] }>(ctx, 'forked_table.py', [String(n)], 120_000);
  return {
    label: 'plain Python: forked child writes the table to a pipe',
    samples: r.tableMs,
    detail: { bareForkMedianMs: median(r.bareForkMs) },
  };
}

export const guestGroup: RowGroup = {
  name: 'guest',
  rows: '7b',
  perVariant: true,
  async run(ctx, variant): Promise<Row[]> {
    const n = ctx.scale.guestStarts;
    const source = fs.readFileSync(path.join(ctx.root, 'bench', 'plugins', 'trivial.py'), 'utf8');
    const runs = await withCluster(ctx, { name: `guest-${variant.name}`, variant, workerService: true }, async (c) => {
      const client = new WorkerClient(c.workerAddress!, grpc.credentials.createInsecure(), channelOptions());
      try {
        const input = c.input('x.txt', 'x\n');
        const samples: number[] = [];
        for (let i = -WARM_UP; i < n; i++) {
          const took = await runOnce(client, source, ctx.lockfile, input);
          if (i >= 0) samples.push(took);
        }
        return samples;
      } finally {
        client.close();
      }
    });
    const ref = await reference(ctx, variant.name, n);
    ctx.say(`  Worker.Run median ${fmt(median(runs))} ms, ${ref.label} ${fmt(median(ref.samples))} ms`);
    return [
      {
        id: '7b',
        title: 'warm guest start per job (median)',
        variant: variant.name,
        unit: 'ms',
        better: 'lower',
        value: median(runs),
        reference: median(ref.samples),
        refLabel: ref.label,
        note: `n=${n} sequential Worker.Run calls of a one-row plugin (call → verdict), p95 ${fmt(quantile(runs, 0.95))} ms; reference p95 ${fmt(quantile(ref.samples, 0.95))} ms`,
        detail: { runsMs: runs, referenceMs: ref.samples, ...ref.detail },
      },
    ];
  },
};
