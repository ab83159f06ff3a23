/**
 * The commit writer that converts while the bytes stream in: each output gets
 * its own connection to the Parquet helper (parquet-helper.ts), which decodes
 * and fully validates every record batch with pyarrow and writes
 * `${stem}.parquet` as the batches arrive. Nothing is staged as IPC and
 * nothing is decoded on the Sentinel: the bytes pass through an IpcFramer,
 * which enforces the strict framing rules (pyarrow reads a stream cut at a
 * message boundary as a shorter valid one), on their way to the socket.
 *
 * A bad stream found by the helper is reported at once; the writer then fails
 * every later write with it, so the attempt ends without waiting for the rest.
 */
import type * as net from 'node:net';
import { IpcFramer } from './ipc-framer';
import { IpcFormatError } from './ipc-messages';
import type { ConversionResult, ConvertOptions, OutputWriter, OutputWriterFactory } from './output-writer';
import { ConversionError, describeSchema, schemaOfIpc, schemaOfSerialized } from './parquet-convert';
import { readIpcWithHelper } from './helper-reader';
import { HelperError, type ParquetHelper, type WriteReply } from './parquet-helper';
import { SinkIoError } from './sink-io';

export interface PyarrowWriterOptions {
  /** Rows gathered into one Parquet row group (pyarrow's default is 1 Mi). */
  rowGroupRows: number;
  /** ...or bytes of Arrow data, whichever comes first (bounds the helper's memory). */
  rowGroupBytes: number;
}

export const DEFAULT_PYARROW_WRITER: Readonly<PyarrowWriterOptions> = Object.freeze({ rowGroupRows: 1024 * 1024, rowGroupBytes: 64 * 1024 * 1024 });

/** An output whose columns do not match its contract (the helper's "schema" reply). */
export class SchemaMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchemaMismatchError';
  }
}

function replyError(reply: WriteReply): Error {
  const message = reply.message ?? 'unknown failure';
  if (reply.kind === 'format') return new IpcFormatError(message);
  if (reply.kind === 'schema') return new SchemaMismatchError(message);
  if (reply.kind === 'conversion') return new ConversionError(message);
  if (reply.kind === 'io') return new SinkIoError(message);
  return new HelperError(`the Parquet helper failed: ${message}`);
}

class PyarrowOutputWriter implements OutputWriter {
  private readonly framer: IpcFramer;
  private readonly sock: Promise<net.Socket>;
  private readonly reply: Promise<WriteReply>;
  private settled: WriteReply | undefined;
  private bytes = 0;

  constructor(helper: ParquetHelper, stem: string, options: ConvertOptions, tuning: PyarrowWriterOptions) {
    this.framer = new IpcFramer(options.limits);
    const rules = options.rules ? { ...options.rules, quarantine: `${stem}_quarantine.parquet` } : undefined;
    this.sock = helper.connect({ op: 'write', parquet: `${stem}.parquet`, codec: options.codec ?? 'snappy', ...tuning, ...(rules ? { rules } : {}) });
    this.reply = this.sock.then((s) => this.readReply(s));
    this.reply.catch(() => undefined); // awaited by write/finish
  }

  private readReply(sock: net.Socket): Promise<WriteReply> {
    return new Promise((resolve, reject) => {
      let text = '';
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => {
        text += d;
        const nl = text.indexOf('\n');
        if (nl < 0) return;
        try {
          this.settled = JSON.parse(text.slice(0, nl)) as WriteReply;
          resolve(this.settled);
        } catch {
          reject(new HelperError('the Parquet helper sent an unreadable reply'));
        }
      });
      sock.on('error', () => undefined); // 'close' follows
      sock.on('close', () => reject(new HelperError('the Parquet helper closed the connection without a reply')));
    });
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.settled && !this.settled.ok) throw replyError(this.settled);
    this.framer.push(bytes);
    this.bytes += bytes.byteLength;
    const sock = await this.sock;
    if (sock.destroyed) throw this.settled && !this.settled.ok ? replyError(this.settled) : new HelperError('the Parquet helper connection is closed');
    if (sock.write(bytes)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        sock.off('drain', done);
        sock.off('close', done);
        resolve();
      };
      sock.on('drain', done);
      sock.on('close', done);
    });
    if (this.settled && !this.settled.ok) throw replyError(this.settled);
  }

  async finish(): Promise<ConversionResult> {
    if (this.settled && !this.settled.ok) throw replyError(this.settled);
    this.framer.end();
    const sock = await this.sock;
    sock.end();
    const reply = await this.reply;
    sock.destroy();
    if (!reply.ok) throw replyError(reply);
    const decoded = reply.inputRows ?? reply.rows;
    if (decoded !== this.framer.rows) {
      throw new IpcFormatError(`the record batches declare ${this.framer.rows} rows but decode to ${decoded}`);
    }
    return {
      rows: reply.rows ?? 0,
      batches: reply.batches ?? 0,
      schema: describeSchema(reply.schema ? schemaOfSerialized(reply.schema) : schemaOfIpc(this.framer.schemaMessage!)),
      ipcBytes: this.bytes,
      parquetBytes: reply.parquetBytes ?? 0,
      ...(reply.quarantined && reply.quarantineSchema
        ? { quarantine: { rows: reply.quarantined, parquetBytes: reply.quarantineBytes ?? 0, schema: describeSchema(schemaOfSerialized(reply.quarantineSchema)) } }
        : {}),
    };
  }

  async abort(): Promise<void> {
    const sock = await this.sock.catch(() => undefined);
    sock?.destroy();
  }
}

export class PyarrowWriterFactory implements OutputWriterFactory {
  readonly kind = 'pyarrow';
  readonly appliesRules = true;

  constructor(
    readonly helper: ParquetHelper,
    private readonly tuning: PyarrowWriterOptions = DEFAULT_PYARROW_WRITER,
  ) {}

  open(stem: string, options: ConvertOptions): OutputWriter {
    return new PyarrowOutputWriter(this.helper, stem, options, this.tuning);
  }

  readIpc(parquetPath: string): AsyncIterable<Uint8Array> {
    return readIpcWithHelper(this.helper, parquetPath);
  }

  close(): Promise<void> {
    return this.helper.stop();
  }
}
