/**
 * The fallback commit writer, for a Sentinel without a usable Python: each
 * output's bytes are appended to `${stem}.arrows` as they arrive (kept on disk,
 * not in memory) and converted to `${stem}.parquet` at seal by parquet-wasm in
 * a worker thread (convert-pool.ts), never on the event loop.
 */
import * as fs from 'node:fs/promises';
import { ConvertPool } from './convert-pool';
import type { ConversionResult, ConvertOptions, OutputWriter, OutputWriterFactory } from './output-writer';

class WasmOutputWriter implements OutputWriter {
  private fh: fs.FileHandle | undefined;
  private done = false;

  constructor(
    private readonly pool: ConvertPool,
    private readonly stem: string,
    private readonly options: ConvertOptions,
  ) {}

  async write(bytes: Uint8Array): Promise<void> {
    this.fh ??= await fs.open(`${this.stem}.arrows`, 'wx');
    let at = 0;
    while (at < bytes.byteLength) {
      const { bytesWritten } = await this.fh.write(bytes, at, bytes.byteLength - at);
      at += bytesWritten;
    }
  }

  async finish(): Promise<ConversionResult> {
    this.fh ??= await fs.open(`${this.stem}.arrows`, 'wx');
    await this.fh.sync();
    await this.close();
    const result = await this.pool.convert(`${this.stem}.arrows`, `${this.stem}.parquet`, this.options);
    await fs.rm(`${this.stem}.arrows`);
    return result;
  }

  async abort(): Promise<void> {
    await this.close();
  }

  private async close(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.fh?.close().catch(() => undefined);
  }
}

export class WasmWriterFactory implements OutputWriterFactory {
  readonly kind = 'wasm';
  readonly appliesRules = false;
  private readonly pool: ConvertPool;

  /** `threads`: conversions that may run at once (each on its own worker thread). */
  constructor(threads = 1) {
    this.pool = new ConvertPool(threads);
  }

  open(stem: string, options: ConvertOptions): OutputWriter {
    return new WasmOutputWriter(this.pool, stem, options);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
