/**
 * The reference every commit figure is printed beside: pyarrow's
 * `parquet.write_table` (snappy) of the same Arrow data, in a Python of the
 * Parquet helper's env, timed without the read (best of N).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { envHashOf } from '../../services/worker/envs/env-hash';
import { HELPER_LOCKFILE } from '../../services/sentinel/sinks/writer-setup';

const SCRIPT = `
import sys, time, pyarrow.ipc as ipc, pyarrow.parquet as pq
src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
t = ipc.open_stream(src).read_all()
best = min((lambda t0: (pq.write_table(t, out, compression='snappy'), time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(n))
print(best)
`;

/** The helper env's python under `home` (built by a Sentinel start or the commit-run warm-up). */
export function helperPython(home: string): string {
  const py = path.join(home, 'venvs', envHashOf(fs.readFileSync(HELPER_LOCKFILE, 'utf8')), 'bin', 'python');
  if (!fs.existsSync(py)) throw new Error(`no helper env at ${py}: start a Sentinel with --home ${home} first`);
  return py;
}

/** MB/s of pyarrow write_table (snappy) on the IPC stream file `src`. */
export function pyarrowWriteTableMBps(python: string, src: string, scratch: string, runs = 3): number {
  const seconds = Number(execFileSync(python, ['-c', SCRIPT, src, path.join(scratch, 'reference.parquet'), String(runs)], { encoding: 'utf8' }).trim());
  fs.rmSync(path.join(scratch, 'reference.parquet'), { force: true });
  return fs.statSync(src).size / 1024 / 1024 / seconds;
}
