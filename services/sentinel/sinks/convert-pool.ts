/**
 * A small pool of worker threads running parquet-wasm conversions
 * (convert-thread.ts). Threads start on demand, up to `size`, are kept for the
 * next conversion (loading the wasm module costs tens of ms) and do not hold
 * the process open. Errors come back with their class: IpcFormatError,
 * ConversionError, or Error.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { IpcFormatError } from './ipc-messages';
import type { ConvertReply, ConvertRequest } from './convert-thread';
import type { ConversionResult, ConvertOptions } from './output-writer';
import { ConversionError } from './parquet-convert';

const THREAD_SCRIPT = path.join(__dirname, 'convert-thread.js');

interface Job {
  req: Omit<ConvertRequest, 'id'>;
  resolve(r: ConversionResult): void;
  reject(e: Error): void;
}

function revive(error: { name: string; message: string }): Error {
  if (error.name === 'IpcFormatError') return new IpcFormatError(error.message);
  if (error.name === 'ConversionError') return new ConversionError(error.message);
  return new Error(error.message);
}

export class ConvertPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Job>();
  private readonly queue: Job[] = [];
  private seq = 0;
  private closed = false;

  constructor(private readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`bad pool size ${size}`);
  }

  convert(ipcPath: string, parquetPath: string, options: ConvertOptions): Promise<ConversionResult> {
    if (this.closed) return Promise.reject(new Error('the conversion pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ req: { ipcPath, parquetPath, options }, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const worker = this.idle.pop() ?? (this.busy.size < this.size ? this.spawn() : undefined);
      if (!worker) return;
      const job = this.queue.shift()!;
      this.busy.set(worker, job);
      worker.ref();
      worker.postMessage({ id: ++this.seq, ...job.req } satisfies ConvertRequest);
    }
  }

  private spawn(): Worker {
    const worker = new Worker(THREAD_SCRIPT);
    worker.on('message', (reply: ConvertReply) => {
      const job = this.busy.get(worker);
      this.busy.delete(worker);
      worker.unref();
      this.idle.push(worker);
      if (job) {
        if ('error' in reply) job.reject(revive(reply.error));
        else job.resolve(reply.result);
      }
      this.pump();
    });
    const lost = (err: Error): void => {
      const job = this.busy.get(worker);
      this.busy.delete(worker);
      const at = this.idle.indexOf(worker);
      if (at >= 0) this.idle.splice(at, 1);
      job?.reject(new Error(`the conversion thread failed: ${err.message}`));
      this.pump();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`exited with code ${code}`)));
    return worker;
  }

  /** Stop every thread; conversions in flight fail. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.idle, ...this.busy.keys()];
    this.idle.length = 0;
    await Promise.all(all.map((w) => w.terminate()));
  }
}
