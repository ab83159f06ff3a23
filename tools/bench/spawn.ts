/** Warm spawn: one bridge round trip of a trivial plugin, the per-job Python overhead. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../../services/common/logger';
import { runBridge } from '../../services/worker/bridge/bridge-host';
import type { BridgeSink } from '../../services/worker/bridge/types';
import type { BenchContext } from './envs';
import { median, ms, p95, timed, type Figure } from './stats';

const TRIVIAL = `
import pyarrow as pa
def parse(path):
    return pa.table({"path": [path], "n": [1]})
`;

export async function benchSpawn(ctx: BenchContext, python: string, figures: Figure[]): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-bench-spawn-'));
  try {
    const input = path.join(dir, 'input.txt');
    fs.writeFileSync(input, 'x\n');
    const once = async (i: number): Promise<number> => {
      let bytes = 0;
      const sink: BridgeSink = { onEvent: (e) => void (e.kind === 'arrow' && (bytes += e.bytes.length)) };
      const [outcome, took] = await timed(() =>
        runBridge(
          {
            python,
            shimPath: path.join(ctx.root, 'bridge_py', 'bridge_shim.py'),
            jobId: `bench-${i}`,
            attempt: 1,
            pluginName: 'bench_trivial',
            pluginVersion: '1.0.0',
            source: TRIVIAL,
            inputPath: input,
            timeouts: { connectMs: 30_000, idleMs: 30_000, totalMs: 60_000, killGraceMs: 1_000 },
          },
          sink,
          { logger: silentLogger, hostEnv: process.env },
        ),
      );
      if (outcome.status !== 'succeeded' || outcome.outputs[0]?.rows !== 1 || bytes === 0) {
        throw new Error(`trivial plugin run failed: ${outcome.status} ${outcome.error?.message ?? ''}`);
      }
      return took;
    };
    await once(-1); // page cache
    const samples: number[] = [];
    for (let i = 0; i < 20; i++) samples.push(await once(i));
    ctx.say(`  warm spawn: median ${ms(median(samples))}, p95 ${ms(p95(samples))} (n=20)`);
    figures.push({
      part: 'spawn',
      what: 'bridge round trip, 1-row table (median / p95)',
      value: `${ms(median(samples))} / ${ms(p95(samples))}`,
      note: 'n=20; spawn python + import pyarrow + HELLO/JOB_SPEC + IPC + exit',
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
