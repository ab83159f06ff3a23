/**
 * Per-attempt guest cost at each isolation level: one bridge run (runBridge:
 * private dir, socket, HELLO/JOB_SPEC, a one-row table as Arrow IPC, verdict,
 * cleanup) of a trivial plugin, spawned, forked by a fork server, and in a
 * reused guest; interleaved, median/p95 of `runs` each. Printed beside three
 * references measured in the same run with plain Python (the issue's
 * figures): a fresh interpreter importing pyarrow; fork + exit + wait in a
 * process that imported pyarrow; a forked child that builds a one-row table
 * and writes it as Arrow IPC to a pipe, end to end.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../../services/common/logger';
import { runBridge } from '../../services/worker/bridge/bridge-host';
import { ForkServerPool } from '../../services/worker/bridge/fork-pool';
import type { LaunchGuest } from '../../services/worker/bridge/guest-handle';
import type { BridgeSink } from '../../services/worker/bridge/types';
import { median, ms, p95, type Figure } from './stats';

const TRIVIAL = `
import pyarrow as pa
def parse(path):
    return pa.table({"path": [path], "n": [1]})
`;

/** Plain Python references, each the median of `n` (milliseconds). */
const REFERENCE = `
import os, sys, time
import pyarrow as pa
n = int(sys.argv[1])
def med(xs):
    xs = sorted(xs); return xs[len(xs) // 2]
fork_exit, fork_ipc = [], []
for _ in range(n):
    t = time.perf_counter(); pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0); fork_exit.append((time.perf_counter() - t) * 1000)
for _ in range(n):
    t = time.perf_counter(); r, w = os.pipe(); pid = os.fork()
    if pid == 0:
        os.close(r)
        table = pa.table({"path": ["x"], "n": [1]})
        with pa.ipc.new_stream(pa.output_stream(os.fdopen(w, "wb")), table.schema) as writer:
            writer.write_table(table)
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        f.read()
    os.waitpid(pid, 0); fork_ipc.append((time.perf_counter() - t) * 1000)
print(med(fork_exit), med(fork_ipc))
`;

export interface IsolationBenchOptions {
  python: string;
  /** bridge_py/ of this checkout. */
  bridgeDir: string;
  runs: number;
  say(line: string): void;
}

function freshImportMs(python: string, n: number): number {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = spawnSync(python, ['-c', 'import pyarrow'], { stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`${python} cannot import pyarrow`);
    samples.push(performance.now() - t0);
  }
  return median(samples);
}

export async function benchIsolation(o: IsolationBenchOptions, figures: Figure[]): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-bench-isolation-'));
  const pool = new ForkServerPool({ script: path.join(o.bridgeDir, 'fork_server.py'), hostEnv: process.env, logger: silentLogger, maxServers: 1, maxIdleGuests: 1 });
  try {
    const input = path.join(dir, 'input.txt');
    fs.writeFileSync(input, 'x\n');
    const envHash = path.basename(path.dirname(path.dirname(o.python)));
    const launchers: Record<string, LaunchGuest | undefined> = {
      spawn: undefined,
      fork: pool.launcher({ envHash, python: o.python }),
      reuse: pool.launcher({ envHash, python: o.python, reuseKey: 'bench' }),
    };
    const once = async (level: string, i: number): Promise<number> => {
      let bytes = 0;
      const sink: BridgeSink = { onEvent: (e) => void (e.kind === 'arrow' && (bytes += e.bytes.length)) };
      const t0 = performance.now();
      const outcome = await runBridge(
        {
          python: o.python,
          shimPath: path.join(o.bridgeDir, 'bridge_shim.py'),
          jobId: `bench-${level}-${i}`,
          attempt: 1,
          pluginName: 'bench_trivial',
          pluginVersion: '1.0.0',
          source: TRIVIAL,
          inputPath: input,
          timeouts: { connectMs: 30_000, idleMs: 30_000, totalMs: 60_000, killGraceMs: 1_000 },
        },
        sink,
        { logger: silentLogger, hostEnv: process.env, launch: launchers[level] },
      );
      const took = performance.now() - t0;
      if (outcome.status !== 'succeeded' || outcome.outputs[0]?.rows !== 1 || bytes === 0) {
        throw new Error(`${level}: trivial plugin run failed: ${outcome.status} ${outcome.error?.message ?? ''}`);
      }
      return took;
    };
    const levels = Object.keys(launchers);
    for (const level of levels) for (let i = 0; i < 3; i++) await once(level, -1 - i); // page cache, server start, first reuse
    const samples: Record<string, number[]> = Object.fromEntries(levels.map((l) => [l, []]));
    for (let i = 0; i < o.runs; i++) for (const level of levels) samples[level].push(await once(level, i));

    const fresh = freshImportMs(o.python, Math.min(o.runs, 20));
    const [forkExit, forkIpc] = execFileSync(o.python, ['-c', REFERENCE, String(o.runs)], { encoding: 'utf8' }).trim().split(' ').map(Number);
    const spawnMed = median(samples.spawn);
    const row = (level: string, ref: number, refName: string): void => {
      const m = median(samples[level]);
      const line = `${level.padEnd(5)}  median ${ms(m).padStart(8)}  p95 ${ms(p95(samples[level])).padStart(8)}  ×${(spawnMed / m).toFixed(1)} vs spawn  ${(m / ref).toFixed(1)}× ${refName} (${ms(ref)})`;
      o.say(`  ${line}`);
      figures.push({
        part: 'isolation',
        what: `${level}: bridge run of a 1-row plugin (median / p95)`,
        value: `${ms(m)} / ${ms(p95(samples[level]))}`,
        note: `n=${o.runs}; ${(spawnMed / m).toFixed(1)}× faster than spawn; ${(m / ref).toFixed(1)}× ${refName} (${ms(ref)}, same run)`,
      });
    };
    o.say(`  references (plain Python, same run): fresh interpreter + import pyarrow ${ms(fresh)}; fork+exit+wait ${ms(forkExit)}; forked child 1-row table → IPC pipe ${ms(forkIpc)}`);
    row('spawn', fresh, 'python -c "import pyarrow"');
    row('fork', forkIpc, 'a forked child writing the table to a pipe');
    row('reuse', forkIpc, 'a forked child writing the table to a pipe');
  } finally {
    await pool.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
