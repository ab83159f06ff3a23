/**
 * The Sentinel's Parquet helper process (services/sentinel/py/parquet_helper.py):
 * pyarrow, in an env the Sentinel provisions, converting Arrow IPC to Parquet
 * and back off the Sentinel's event loop. One helper per Sentinel, one Unix
 * socket connection per request (the helper runs each on its own thread;
 * pyarrow releases the GIL while it encodes).
 *
 * Lifecycle:  stopped ──start()──► running ──the process exits──► stopped
 *                                     └──stop()──► stopped (idempotent)
 * A helper that exits unexpectedly fails the requests in flight with
 * HelperError and is started again by the next request. It exits by itself
 * when the Sentinel dies (its stdin closes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { Logger } from '../../common/logger';

/** parquet_helper.py of this checkout (from dist/services/sentinel/sinks). */
export const HELPER_SCRIPT = path.resolve(__dirname, '..', '..', '..', '..', 'services', 'sentinel', 'py', 'parquet_helper.py');

/** The helper failed for a reason that is not the data's fault (it died, its socket broke). */
export class HelperError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HelperError';
  }
}

export interface WriteReply {
  ok: boolean;
  kind?: 'format' | 'conversion' | 'schema' | 'io' | 'internal';
  message?: string;
  /** Rows written (with rules: the rows kept). */
  rows?: number;
  /** Rows read from the stream (with rules: kept + quarantined). */
  inputRows?: number;
  batches?: number;
  parquetBytes?: number;
  /** With rules: the written schema, base64 of its Arrow IPC serialization. */
  schema?: string;
  quarantined?: number;
  quarantineBytes?: number;
  quarantineSchema?: string;
}

const START_TIMEOUT_MS = 60_000;

export class ParquetHelper {
  private proc: ChildProcess | undefined;
  private starting: Promise<void> | undefined;
  private stopped = false;
  /** Version of pyarrow the helper reported. */
  pyarrowVersion = '';

  constructor(
    private readonly python: string,
    private readonly socketPath: string,
    private readonly logger: Logger,
  ) {}

  /** Start the helper (if not running) and wait until it serves. */
  start(): Promise<void> {
    if (this.stopped) return Promise.reject(new HelperError('the Parquet helper was stopped'));
    this.starting ??= this.spawnHelper().catch((err) => {
      this.starting = undefined;
      throw err;
    });
    return this.starting;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  private spawnHelper(): Promise<void> {
    fs.rmSync(this.socketPath, { force: true });
    const proc = spawn(this.python, ['-u', HELPER_SCRIPT, this.socketPath], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc = proc;
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-4000)));
    proc.stdin!.on('error', () => undefined);
    return new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => fail(new HelperError(`the Parquet helper did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        proc.kill('SIGKILL');
        reject(err);
      };
      proc.once('error', (err) => fail(new HelperError(`cannot start the Parquet helper: ${err.message}`)));
      proc.once('exit', (code, signal) => {
        if (this.proc === proc) {
          this.proc = undefined;
          this.starting = undefined;
        }
        if (!this.stopped) this.logger.warn('parquet helper exited', { code, signal, stderr: stderr.slice(-1000) });
        fail(new HelperError(`the Parquet helper exited (${signal ?? code}): ${stderr.trim().slice(-500)}`));
      });
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString('utf8');
        const m = /^READY (.*)\n/m.exec(out);
        if (!m) return;
        clearTimeout(timer);
        this.pyarrowVersion = (JSON.parse(m[1]) as { pyarrow: string }).pyarrow;
        resolve();
      });
    });
  }

  /** Open one request's connection: the JSON header is sent first. */
  async connect(header: Record<string, unknown>): Promise<net.Socket> {
    await this.start();
    const sock = net.connect(this.socketPath);
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', (err) => reject(new HelperError(`cannot reach the Parquet helper: ${err.message}`)));
    });
    sock.write(`${JSON.stringify(header)}\n`);
    return sock;
  }

  /** Stop the helper; idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.stdin!.end(); // the helper exits when its stdin closes
    const timer = setTimeout(() => proc.kill('SIGKILL'), 2_000);
    await exited;
    clearTimeout(timer);
    fs.rmSync(this.socketPath, { force: true });
  }
}
