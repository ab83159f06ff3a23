/**
 * `node dist/tools/perf/commit-run.js ARROWS_FILE [--repeat N] [--prof DIR] [--no-fetch] [--writer auto|pyarrow|wasm] [--ref]`:
 * one large output through real processes (a Sentinel and a Worker started
 * through the CLI), measured end to end:
 *
 *   commit MB/s    Arrow bytes / (commit time − the plugin's first yield)
 *   unary latency  ListWorkers p50/p99/max, every 20 ms while the output streams and commits
 *   peak RSS       VmHWM of the Sentinel and the Worker (/proc/PID/status)
 *   fetch MB/s     FetchOutput read as a stream (bytes counted, not kept)
 *   CPU seconds    of the Sentinel, the Worker, the guest and the Parquet helper during the commit
 *   --ref          pyarrow write_table (snappy) of the same data, run after the commit, and the ratio
 *
 * The plugin yields the record batches of ARROWS_FILE (an Arrow IPC stream
 * file) N times. Env home: $CASPARIAN_HOME (kept between runs so the pyarrow
 * env is built once). --prof writes CPU profiles of the Sentinel and the Worker to DIR/sentinel and DIR/worker.
 * A measuring tool, not a test: it prints figures and asserts nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { JobState } from '../../services/gen/casparian/v1/types';
import { SentinelClient } from '../cli/client';
import { helperPython, pyarrowWriteTableMBps } from './py-reference';

const CLI = path.resolve(__dirname, '..', 'casparian.js');
const MB = 1024 * 1024;
const LOCKFILE = '# casparian e2e env\npyarrow==25.0.1\n';
const PLUGIN = `
import time, pyarrow as pa, pyarrow.ipc as ipc
def parse(path):
    src, repeat, mark = open(path).read().split()
    first = True
    for _ in range(int(repeat)):
        for b in ipc.open_stream(pa.memory_map(src)):
            if first:
                open(mark, 'w').write(repr(time.time()))
                first = False
            yield b
`;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function vmHwmMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** CPU seconds of a process: [own, its reaped children's]. */
function cpuSeconds(pid: number): [number, number] {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const t = (i: number): number => Number(f[i - 3]) / 100; // fields 14..17 (1-based), after "pid (comm)"
  return [t(14) + t(15), t(16) + t(17)];
}

/** The Parquet helper started by the Sentinel `pid`, if any. */
function helperPid(pid: number): number | undefined {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.split(') ')[1].split(' ')[1]) !== pid) continue;
      if (fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('parquet_helper.py')) return Number(d);
    } catch {
      /* gone */
    }
  }
  return undefined;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

async function main(): Promise<void> {
  const src = path.resolve(process.argv[2] ?? '');
  if (!fs.existsSync(src)) throw new Error('usage: commit-run ARROWS_FILE [--repeat N] [--prof DIR]');
  const repeat = Number(arg('repeat') ?? 1);
  const prof = arg('prof');
  const home = process.env.CASPARIAN_HOME ?? path.join(os.tmpdir(), 'casparian-perf-home');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-perf-'));
  const port = await freePort();
  const procs: ChildProcess[] = [];
  const start = (name: string, nodeArgs: string[], args: string[]): ChildProcess => {
    const log = fs.openSync(path.join(root, `${name}.log`), 'w');
    const p = spawn(process.execPath, [...nodeArgs, CLI, ...args], { stdio: ['ignore', log, log], env: { ...process.env, CASPARIAN_LOG_FORMAT: 'json' } });
    procs.push(p);
    return p;
  };
  const client = new SentinelClient(`127.0.0.1:${port}`, 120_000);
  const index = process.env.CASPARIAN_PIP_INDEX_URL ? ['--index-url', process.env.CASPARIAN_PIP_INDEX_URL] : [];
  const writer = arg('writer') ? ['--commit-writer', arg('writer')!] : [];
  try {
    const profArgs = (name: string): string[] => (prof ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(prof, name)}`] : []);
    const sentinel = start('sentinel', profArgs('sentinel'), ['sentinel', '--data-dir', path.join(root, 'data'), '--port', String(port), '--input-root', root, '--home', home, ...index, ...writer]);
    await client.ready();
    const worker = start('worker', profArgs('worker'), ['worker', '--sentinel', `127.0.0.1:${port}`, '--slots', '1', '--home', home, '--worker-port=-1', '--allow-unsigned', ...index]);
    await client.publishPlugin({ name: 'perf_big', version: '1.0.0', source: PLUGIN, lockfile: LOCKFILE, manifest: { description: '', envAllow: [], maxAttempts: 1, timeouts: undefined, limits: undefined, isolation: '', maxConcurrency: 0 } });
    // Warm-up: a one-batch run provisions the env (first time) and spawns a guest once.
    const warmIn = path.join(root, 'warm.txt');
    fs.writeFileSync(warmIn, `${src} 0 ${path.join(root, 'warm.mark')}`);
    await runJob(client, warmIn);
    const input = path.join(root, 'input.txt');
    const mark = path.join(root, 'first-yield');
    fs.writeFileSync(input, `${src} ${repeat} ${mark}`);
    const helper = helperPid(sentinel.pid!);
    const cpu0 = { s: cpuSeconds(sentinel.pid!), w: cpuSeconds(worker.pid!), h: helper ? cpuSeconds(helper) : [0, 0] };
    const lat: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const t0 = performance.now();
        await client.listWorkers({});
        lat.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const job = await runJob(client, input);
    sampling = false;
    await sampler;
    const firstYield = Number(fs.readFileSync(mark, 'utf8')) * 1000;
    const arrowBytes = job.metrics?.arrowBytes ?? 0;
    const commitMs = job.finishedAt!.getTime() - firstYield;
    const rss = { sentinel: vmHwmMb(sentinel.pid!), worker: vmHwmMb(worker.pid!), helper: helper ? vmHwmMb(helper) : 0 };
    const cpu1 = { s: cpuSeconds(sentinel.pid!), w: cpuSeconds(worker.pid!), h: helper ? cpuSeconds(helper) : [0, 0] };
    const cpu = {
      sentinel: +(cpu1.s[0] - cpu0.s[0]).toFixed(2),
      worker: +(cpu1.w[0] - cpu0.w[0]).toFixed(2),
      guest: +(cpu1.w[1] - cpu0.w[1]).toFixed(2),
      helper: +(cpu1.h[0] - cpu0.h[0]).toFixed(2),
    };
    const ref = process.argv.includes('--ref') ? pyarrowWriteTableMBps(helperPython(home), src, root) : undefined;
    const t0 = performance.now();
    let fetched = 0;
    await client.ready();
    if (!process.argv.includes('--no-fetch')) for await (const m of client.raw.fetchOutput({ jobId: job.id, outputName: '' }) as AsyncIterable<{ data: Uint8Array }>) fetched += m.data.byteLength;
    const fetchMs = performance.now() - t0;
    const out = job.outputs[0];
    const result = {
      arrowMB: +(arrowBytes / MB).toFixed(1),
      parquetMB: +((out?.sizeBytes ?? 0) / MB).toFixed(1),
      rows: out?.rows,
      commitMBps: +(arrowBytes / MB / (commitMs / 1000)).toFixed(1),
      commitSeconds: +(commitMs / 1000).toFixed(2),
      ...(ref ? { pyarrowWriteTableMBps: +ref.toFixed(1), ratio: +(arrowBytes / MB / (commitMs / 1000) / ref).toFixed(2) } : {}),
      cpuSecondsDuringCommit: cpu,
      unaryMs: { n: lat.length, p50: +pct(lat, 50).toFixed(1), p99: +pct(lat, 99).toFixed(1), max: +Math.max(...lat).toFixed(1) },
      fetchMBps: +(fetched / MB / (fetchMs / 1000)).toFixed(1),
      fetchedMB: +(fetched / MB).toFixed(1),
      peakRssMB: { sentinel: Math.round(rss.sentinel), worker: Math.round(rss.worker), helper: Math.round(rss.helper), sentinelAfterFetch: Math.round(vmHwmMb(sentinel.pid!)), helperAfterFetch: helper ? Math.round(vmHwmMb(helper)) : 0 },
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    client.close();
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
    if (process.env.CASPARIAN_PERF_KEEP) process.stderr.write(`kept ${root}\n`);
    else fs.rmSync(root, { recursive: true, force: true });
  }
}

async function runJob(client: SentinelClient, input: string) {
  const { job } = await client.submitJob({ pluginName: 'perf_big', pluginVersion: '', inputPath: input, idempotencyKey: '', maxAttempts: 1, timeouts: undefined });
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`job ${job!.id} did not finish within 15 minutes`);
    const j = (await client.getJob({ jobId: job!.id, includeLogs: false })).job!;
    if (j.state === JobState.JOB_STATE_SUCCEEDED) return j;
    if (j.state === JobState.JOB_STATE_FAILED || j.state === JobState.JOB_STATE_DEAD_LETTER) throw new Error(`job failed: ${JSON.stringify(j.error)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
