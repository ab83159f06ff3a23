/**
 * `node dist/tools/perf/commit-options.js ARROWS_FILE [--home DIR] [--polars DIR]`:
 * the ways to turn a staged Arrow IPC stream into committed Parquet, measured
 * side by side in one run on the same file, each as MB/s of Arrow and as a
 * ratio to pyarrow's write_table (snappy) measured in the same run. The
 * figures of docs/adr/0002-output-commit-path.md come from here.
 *
 *   wasm, event loop       today's path: parquet-convert.ts on the main thread
 *   wasm, 1 thread         the same in a worker thread (wasm-writer.ts)
 *   wasm, 2 threads        two outputs at once (aggregate)
 *   pyarrow helper         streamed through the helper in 1 MiB writes (pyarrow-writer.ts)
 *   pyarrow helper, 2      two outputs at once (aggregate)
 *   IPC committed          the strict framing walk + rename only (Parquet later)
 *   nodejs-polars          read_ipc_stream + write_parquet, if --polars DIR has it
 *
 * The helper env must exist under --home (default $CASPARIAN_HOME); prints
 * JSON lines and a Markdown table. A measuring tool: it asserts nothing.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../../services/common/logger';
import { ConvertPool } from '../../services/sentinel/sinks/convert-pool';
import { ipcMessagesOfFile } from '../../services/sentinel/sinks/ipc-messages';
import type { OutputWriterFactory } from '../../services/sentinel/sinks/output-writer';
import { convertIpcFileToParquet } from '../../services/sentinel/sinks/parquet-convert';
import { ParquetHelper } from '../../services/sentinel/sinks/parquet-helper';
import { PyarrowWriterFactory } from '../../services/sentinel/sinks/pyarrow-writer';
import { helperPython, pyarrowWriteTableMBps } from './py-reference';

const MiB = 1024 * 1024;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

/** Stream `src` into one writer of `factory` in 1 MiB pieces and finish it. */
async function throughWriter(factory: OutputWriterFactory, src: string, stem: string): Promise<void> {
  const w = factory.open(stem, { codec: 'snappy' });
  const fd = fs.openSync(src, 'r');
  try {
    const buf = Buffer.allocUnsafe(MiB);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, MiB, null);
      if (n === 0) break;
      await w.write(Buffer.from(buf.subarray(0, n)));
    }
  } finally {
    fs.closeSync(fd);
  }
  await w.finish();
}

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

async function main(): Promise<void> {
  const src = path.resolve(process.argv[2] ?? '');
  if (!fs.existsSync(src)) throw new Error('usage: commit-options ARROWS_FILE [--home DIR] [--polars DIR]');
  const home = arg('home') ?? process.env.CASPARIAN_HOME ?? path.join(os.homedir(), '.casparian_flow');
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-options-'));
  const mb = fs.statSync(src).size / MiB;
  const python = helperPython(home);
  const rows: { option: string; mbps: number; note: string }[] = [];
  let n = 0;
  const fresh = (): string => path.join(scratch, `o${++n}`);
  const add = (option: string, mbps: number, note = ''): void => {
    rows.push({ option, mbps, note });
    process.stdout.write(`${JSON.stringify({ option, mbps: +mbps.toFixed(1), note })}\n`);
  };
  try {
    const ref = pyarrowWriteTableMBps(python, src, scratch);
    add('pyarrow write_table (reference)', ref, 'whole table in memory, one call, Python process');

    add('(a) parquet-wasm, event loop (before)', mb / (await timeIt(() => convertIpcFileToParquet(src, `${fresh()}.parquet`))));
    const pool1 = new ConvertPool(1);
    await pool1.convert(src, `${fresh()}.parquet`, {}); // load the wasm module in the thread
    add('(a) parquet-wasm, 1 worker thread', mb / (await timeIt(() => pool1.convert(src, `${fresh()}.parquet`, {}))));
    await pool1.close();
    const pool2 = new ConvertPool(2);
    const both = (): Promise<unknown> => Promise.all([pool2.convert(src, `${fresh()}.parquet`, {}), pool2.convert(src, `${fresh()}.parquet`, {})]);
    await both();
    add('(a) parquet-wasm, 2 worker threads', (2 * mb) / (await timeIt(both)), 'two outputs at once, aggregate');
    await pool2.close();

    const helper = new ParquetHelper(python, path.join(scratch, 'h.sock'), silentLogger);
    const py = new PyarrowWriterFactory(helper);
    await throughWriter(py, src, fresh()); // warm
    add('(b) pyarrow helper, streamed', mb / (await timeIt(() => throughWriter(py, src, fresh()))), '1 MiB writes over a Unix socket; full validation');
    add('(b) pyarrow helper, 2 outputs', (2 * mb) / (await timeIt(() => Promise.all([throughWriter(py, src, fresh()), throughWriter(py, src, fresh())]))), 'two outputs at once, aggregate');
    await py.close();

    const framing = await timeIt(async () => {
      for await (const m of ipcMessagesOfFile(src)) void m;
      fs.copyFileSync(src, `${fresh()}.arrows`);
    });
    add('(c) IPC committed (framing check + copy)', mb / framing, 'no full validation; Parquet still to be written after the commit');

    const polarsDir = arg('polars');
    if (polarsDir) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const pl = require(path.join(polarsDir, 'node_modules', 'nodejs-polars')) as {
        readIPCStream(b: Buffer): { writeParquet(p: string, o: object): void };
      };
      const once = (): void => pl.readIPCStream(fs.readFileSync(src)).writeParquet(`${fresh()}.parquet`, { compression: 'snappy' });
      once();
      add('(d) nodejs-polars (native, in process)', mb / (await timeIt(async () => once())), 'blocks the event loop; strings come back as string_view');
    }
    process.stdout.write(`\n| option | MB/s | × pyarrow | note |\n|---|---|---|---|\n`);
    for (const r of rows) process.stdout.write(`| ${r.option} | ${r.mbps.toFixed(0)} | ${(r.mbps / ref).toFixed(2)} | ${r.note} |\n`);
    process.stdout.write(`\n${mb.toFixed(1)} MB of Arrow IPC (${path.basename(src)}); ${os.cpus().length} cores; load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
