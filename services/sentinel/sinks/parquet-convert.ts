/**
 * Arrow IPC stream ⇄ Parquet, streaming through parquet-wasm 0.8: the
 * fallback commit writer's converter (the Sentinel runs it in a worker thread,
 * wasm-writer.ts) and the CLI's `fetch --out FILE.parquet`.
 *
 * Writing: the staged IPC file is walked one message at a time (ipc-messages.ts);
 * every record batch is cut out as a self-contained stream, decoded once, by
 * arrow-rs (`Table.fromIPCStream`, which fully validates offsets and buffer
 * sizes), and handed to `transformParquetStream`, which runs
 * parquet-rs' AsyncArrowWriter and emits the file's bytes as a ReadableStream.
 * Memory is bounded by one IPC message plus one Parquet row group (the writer
 * buffers a row group before flushing it; see ROW_GROUP_ROWS), not by the output.
 * Note that WebAssembly memory only grows: the wasm heap keeps the high-water mark
 * of the largest row group converted so far for the life of the process.
 *
 * `transformParquetStream` ignores errors from individual writes (it still writes
 * a footer), so after every conversion the footer is read back and its row count
 * compared with the rows fed in; a mismatch fails the conversion.
 *
 * Reading: `ParquetFile.fromFile` over `fs.openAsBlob` reads byte ranges lazily,
 * `stream()` decodes batch by batch, and each batch's IPC bytes are re-framed into
 * one continuous, uncompressed IPC stream.
 */
import * as fs from 'node:fs/promises';
import { openAsBlob } from 'node:fs';
import * as arrow from 'apache-arrow';
import * as pw from 'parquet-wasm';
import {
  DEFAULT_IPC_LIMITS,
  DictionaryState,
  EOS_MARKER,
  IpcFormatError,
  IpcMessage,
  concatBytes,
  ipcMessagesOfBuffer,
  ipcMessagesOfFile,
} from './ipc-messages';
import type { ConversionResult, ConvertOptions, FieldInfo, ParquetCodec } from './output-writer';

/** Rows per Parquet row group: bounds the writer's buffer and the reader's working set. */
export const ROW_GROUP_ROWS = 128 * 1024;
/** Rows per batch when reading Parquet back. */
export const READ_BATCH_ROWS = 16 * 1024;
/**
 * Rows handed to the Parquet writer at a time. Encoding runs synchronously on
 * the calling thread; big batches are cut into slices with a turn of the loop
 * between them, so that a caller on a main thread (the CLI) stays responsive.
 */
export const WRITE_SLICE_ROWS = 16 * 1024;


const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The output's data cannot be stored as Parquet (e.g. a type Parquet has no mapping for). */
export class ConversionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConversionError';
  }
}

export type { ConversionResult, ConvertOptions, FieldInfo, ParquetCodec } from './output-writer';

/** Column-level description of an Arrow schema, as stored with committed outputs. */
export function describeSchema(schema: arrow.Schema): FieldInfo[] {
  return schema.fields.map((f) => ({ name: f.name, type: f.type.toString(), nullable: f.nullable }));
}

/** Decode the schema of an IPC stream from its first message. */
export function schemaOfIpc(schemaMessage: IpcMessage): arrow.Schema {
  try {
    return arrow.tableFromIPC(concatBytes([schemaMessage.bytes, EOS_MARKER])).schema;
  } catch (err) {
    throw new IpcFormatError(`schema does not decode (${(err as Error).message})`);
  }
}

/** A schema from pyarrow's `Schema.serialize()`, base64: one IPC schema message. */
export function schemaOfSerialized(base64: string): arrow.Schema {
  return arrow.tableFromIPC(concatBytes([Buffer.from(base64, 'base64'), EOS_MARKER])).schema;
}

const CODECS: Record<ParquetCodec, pw.Compression> = {
  zstd: pw.Compression.ZSTD,
  snappy: pw.Compression.SNAPPY,
  none: pw.Compression.UNCOMPRESSED,
};
const probed = new Map<ParquetCodec, boolean>();

function codecWorks(codec: ParquetCodec): boolean {
  let ok = probed.get(codec);
  if (ok === undefined) {
    const probe = arrow.tableToIPC(arrow.tableFromArrays({ x: Int32Array.of(1) }), 'stream');
    try {
      pw.writeParquet(pw.Table.fromIPCStream(probe), new pw.WriterPropertiesBuilder().setCompression(CODECS[codec]).build());
      ok = true;
    } catch {
      ok = false; // codec not compiled into this wasm build
    }
    probed.set(codec, ok);
  }
  return ok;
}

/**
 * The codec to write with: `preferred` if this wasm build has it (custom builds
 * may leave codecs out; probed once with a one-row table), else SNAPPY, else none.
 */
export function parquetCompression(preferred: ParquetCodec = 'snappy'): pw.Compression {
  for (const c of [preferred, 'snappy', 'none'] as const) if (codecWorks(c)) return CODECS[c];
  return pw.Compression.UNCOMPRESSED;
}

function writerProperties(codec: ParquetCodec): pw.WriterProperties {
  return new pw.WriterPropertiesBuilder()
    .setCompression(parquetCompression(codec))
    .setMaxRowGroupSize(ROW_GROUP_ROWS)
    .setCreatedBy('casparian-flow')
    .build();
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Turn one record batch (with its dictionaries) into a validated wasm RecordBatch.
 * Decoded once, by arrow-rs (`Table.fromIPCStream` fully validates offsets and
 * buffer sizes); the row count is checked against the message's declaration.
 */
function toWasmBatch(standalone: Uint8Array, msg: IpcMessage): pw.RecordBatch {
  let table: pw.Table;
  try {
    table = pw.Table.fromIPCStream(standalone);
  } catch (err) {
    throw new IpcFormatError(`record batch at byte ${msg.offset} is invalid (${errText(err)})`);
  }
  try {
    const batch = table.recordBatch(0);
    if (!batch || table.numBatches !== 1 || batch.numRows !== msg.rows) {
      batch?.free();
      throw new IpcFormatError(`record batch at byte ${msg.offset} is invalid (row count mismatch)`);
    }
    return batch;
  } finally {
    table.free();
  }
}

async function writeAll(target: string, chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<number> {
  const fh = await fs.open(target, 'wx');
  let size = 0;
  try {
    for await (const chunk of chunks) {
      await fh.write(chunk);
      size += chunk.byteLength;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  return size;
}

/** Rows recorded in a Parquet file's footer. */
export async function parquetRowCount(parquetPath: string): Promise<number> {
  const file = await pw.ParquetFile.fromFile(await openAsBlob(parquetPath));
  try {
    const meta = file.metadata();
    return meta.fileMetadata().numRows();
  } finally {
    file.free();
  }
}

/**
 * Validate the IPC stream in `ipcPath` and write it as Parquet to `parquetPath`
 * (which must not exist). Throws IpcFormatError for malformed bytes and
 * ConversionError for data Parquet cannot hold; the partial file is removed.
 */
export async function convertIpcFileToParquet(
  ipcPath: string,
  parquetPath: string,
  options: ConvertOptions = {},
): Promise<ConversionResult> {
  const limits = options.limits ?? DEFAULT_IPC_LIMITS;
  const codec = options.codec ?? 'snappy';
  const { size: ipcBytes } = await fs.stat(ipcPath);
  const messages = ipcMessagesOfFile(ipcPath, limits);
  try {
    const first = await messages.next();
    if (first.done) throw new IpcFormatError('stream is empty');
    const schemaMsg = first.value;
    const schema = schemaOfIpc(schemaMsg);
    const dictionaries = new DictionaryState();
    let rows = 0;
    let batches = 0;

    const nextBatch = async (): Promise<pw.RecordBatch | null> => {
      for (;;) {
        const r = await messages.next();
        if (r.done) return null;
        const msg = r.value;
        if (msg.compressed) {
          throw new IpcFormatError(
            `message at byte ${msg.offset} uses IPC body compression, which is not accepted; write uncompressed IPC`,
          );
        }
        if (msg.kind === 'dictionary') {
          dictionaries.add(msg);
          continue;
        }
        const batch = toWasmBatch(dictionaries.standalone(schemaMsg, msg), msg);
        rows += msg.rows;
        batches++;
        return batch;
      }
    };

    let pending = await nextBatch();
    let parquetBytes: number;
    try {
      if (!pending) {
        // Schema only: transformParquetStream needs a first batch, so write the empty table whole.
        let bytes: Uint8Array;
        try {
          bytes = pw.writeParquet(pw.Table.fromIPCStream(concatBytes([schemaMsg.bytes, EOS_MARKER])), writerProperties(codec));
        } catch (err) {
          throw new ConversionError(`cannot be written as Parquet (${errText(err)})`);
        }
        parquetBytes = await writeAll(parquetPath, [bytes]);
      } else {
        let failure: unknown;
        let current: pw.RecordBatch | null = null;
        let sliced = 0;
        const input = new ReadableStream<pw.RecordBatch>(
          {
            async pull(controller) {
              try {
                if (!current) {
                  current = pending ?? (await nextBatch());
                  pending = null;
                  sliced = 0;
                  if (!current) return controller.close();
                }
                if (sliced === 0 && current.numRows <= WRITE_SLICE_ROWS) {
                  const whole = current;
                  current = null;
                  return controller.enqueue(whole); // ownership passes to the writer
                }
                const n = Math.min(WRITE_SLICE_ROWS, current.numRows - sliced);
                const slice = current.slice(sliced, n);
                sliced += n;
                if (sliced >= current.numRows) {
                  current.free();
                  current = null;
                }
                await yieldToEventLoop();
                controller.enqueue(slice);
              } catch (err) {
                // Erroring the stream would be ignored by the wasm writer (it writes a
                // footer regardless); remember the failure and end the input instead.
                failure = err;
                controller.close();
              }
            },
          },
          { highWaterMark: 0 },
        );
        let output: ReadableStream<Uint8Array>;
        try {
          output = (await pw.transformParquetStream(input, writerProperties(codec))) as ReadableStream<Uint8Array>;
        } catch (err) {
          throw new ConversionError(`cannot be written as Parquet (${errText(err)})`);
        }
        parquetBytes = await writeAll(parquetPath, output as unknown as AsyncIterable<Uint8Array>);
        if (failure) throw failure;
      }
      const written = await parquetRowCount(parquetPath);
      if (written !== rows) {
        throw new ConversionError(
          `cannot be stored as Parquet: the writer kept ${written} of ${rows} rows ` +
            '(a column type without a Parquet mapping, such as a month-day-nano interval?)',
        );
      }
    } catch (err) {
      (pending as pw.RecordBatch | null)?.free();
      await fs.rm(parquetPath, { force: true });
      throw err;
    }
    return { rows, batches, schema: describeSchema(schema), ipcBytes, parquetBytes };
  } finally {
    await messages.return(undefined);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}

/**
 * Read a Parquet file back as the messages of one uncompressed Arrow IPC stream
 * (schema, dictionaries, record batches, EOS). Identical dictionaries are sent
 * once; a changed one is sent as a replacement, which the stream format allows.
 */
export async function* parquetToIpcMessages(
  parquetPath: string,
  batchRows: number = READ_BATCH_ROWS,
): AsyncGenerator<Uint8Array> {
  const file = await pw.ParquetFile.fromFile(await openAsBlob(parquetPath));
  try {
    const batches = (await file.stream({ batchSize: batchRows })) as unknown as AsyncIterable<pw.RecordBatch>;
    let sentSchema = false;
    const lastDictionary = new Map<number, Uint8Array>();
    for await (const batch of batches) {
      for await (const msg of ipcMessagesOfBuffer(batch.intoIPCStream())) {
        if (msg.kind === 'schema') {
          if (!sentSchema) yield msg.bytes;
          sentSchema = true;
          continue;
        }
        if (msg.kind === 'dictionary') {
          const id = msg.dictionaryId ?? 0;
          const prev = lastDictionary.get(id);
          if (!msg.isDelta && prev && sameBytes(prev, msg.bytes)) continue;
          if (msg.isDelta) lastDictionary.delete(id);
          else lastDictionary.set(id, msg.bytes);
        }
        yield msg.bytes;
      }
    }
    if (!sentSchema) {
      for await (const msg of ipcMessagesOfBuffer(file.schema().intoIPCStream())) yield msg.bytes;
    }
    yield EOS_MARKER;
  } finally {
    file.free();
  }
}
