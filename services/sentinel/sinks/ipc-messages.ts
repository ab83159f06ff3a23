/**
 * Strict framing of Arrow IPC *stream* format bytes, one message at a time.
 *
 * A stream is a sequence of encapsulated messages
 *
 *     0xFFFFFFFF | int32 LE metadata length | flatbuffer Message (padded) | body
 *
 * ending with the end-of-stream marker 0xFFFFFFFF 0x00000000. The first message is
 * the Schema, followed by DictionaryBatch and RecordBatch messages.
 *
 * apache-arrow's own reader is lenient: a stream cut at a message boundary (or
 * inside a length prefix) reads as a shorter valid stream, and leading zero bytes
 * read as an empty stream. Output bytes arrive from untrusted guests over a
 * network, so this module insists on: the continuation marker on every message,
 * a Schema first and only first, bodies that are fully present, an explicit EOS
 * marker, and nothing after it. Every violation is an {@link IpcFormatError}.
 *
 * The pre-0.15 framing (no continuation marker) is not accepted.
 */
import * as fs from 'node:fs/promises';
import { Message, MessageHeader } from 'apache-arrow';
import type { IpcLimits } from './output-writer';

export const CONTINUATION = 0xffffffff;
/** The end-of-stream marker: continuation + zero metadata length. */
export const EOS_MARKER: Uint8Array = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);

export class IpcFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IpcFormatError';
  }
}

export type IpcMessageKind = 'schema' | 'dictionary' | 'record_batch';

export interface IpcMessage {
  kind: IpcMessageKind;
  /** The whole encapsulated message (prefix, metadata and body), ready to concatenate into a stream. */
  bytes: Uint8Array;
  /** Length of the body at the end of `bytes`. */
  bodyLength: number;
  /** Rows in a record batch (0 for other kinds). */
  rows: number;
  /** Dictionary id and delta flag, for dictionary batches. */
  dictionaryId?: number;
  isDelta?: boolean;
  /** Whether the body is compressed (LZ4/ZSTD IPC body compression). */
  compressed: boolean;
  /** Offset of the message in the stream. */
  offset: number;
}

export type { IpcLimits } from './output-writer';

export const DEFAULT_IPC_LIMITS: IpcLimits = Object.freeze({
  maxMetadataBytes: 64 * 1024 * 1024,
  maxBodyBytes: 512 * 1024 * 1024,
});

/** Something that can hand out exact byte ranges of a stream of known length. */
interface RangeSource {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Decode the flatbuffer header of one message; any decoding failure is a format error. */
export function decodeMetadata(meta: Uint8Array, offset: number): Omit<IpcMessage, 'bytes' | 'offset'> {
  let msg: Message;
  try {
    msg = Message.decode(meta);
    const headerType = msg.headerType;
    const bodyLength = Number(msg.bodyLength);
    if (!Number.isSafeInteger(bodyLength) || bodyLength < 0) {
      throw new IpcFormatError(`message at byte ${offset} has an invalid body length`);
    }
    switch (headerType) {
      case MessageHeader.Schema:
        msg.header(); // decode eagerly so a broken schema fails here
        return { kind: 'schema', bodyLength, rows: 0, compressed: false };
      case MessageHeader.RecordBatch: {
        const rb = msg.header() as unknown as { length: number; compression: unknown };
        const rows = Number(rb.length);
        if (!Number.isSafeInteger(rows) || rows < 0) {
          throw new IpcFormatError(`record batch at byte ${offset} has an invalid row count`);
        }
        return { kind: 'record_batch', bodyLength, rows, compressed: rb.compression != null };
      }
      case MessageHeader.DictionaryBatch: {
        const db = msg.header() as unknown as { id: number; isDelta: boolean; data: { compression: unknown } };
        return {
          kind: 'dictionary',
          bodyLength,
          rows: 0,
          dictionaryId: Number(db.id),
          isDelta: Boolean(db.isDelta),
          compressed: db.data?.compression != null,
        };
      }
      default:
        throw new IpcFormatError(`message at byte ${offset} has unsupported header type ${String(headerType)}`);
    }
  } catch (err) {
    if (err instanceof IpcFormatError) throw err;
    throw new IpcFormatError(`message at byte ${offset} has unreadable metadata (${(err as Error).message})`);
  }
}

/**
 * Walk the messages of a stream strictly. Yields every message (schema first) and
 * returns after the EOS marker, which must be the last 8 bytes.
 */
async function* walk(src: RangeSource, limits: IpcLimits): AsyncGenerator<IpcMessage> {
  let pos = 0;
  let index = 0;
  const need = (n: number, what: string): void => {
    if (pos + n > src.size) {
      throw new IpcFormatError(
        `stream is truncated: expected ${n} bytes of ${what} at byte ${pos}, only ${src.size - pos} left`,
      );
    }
  };
  for (;;) {
    if (pos === src.size) {
      throw new IpcFormatError(
        pos === 0 ? 'stream is empty' : `stream is truncated: no end-of-stream marker after byte ${pos}`,
      );
    }
    need(8, 'message prefix');
    const prefix = await src.read(pos, 8);
    const dv = new DataView(prefix.buffer, prefix.byteOffset, 8);
    if (dv.getUint32(0, true) !== CONTINUATION) {
      throw new IpcFormatError(`not an Arrow IPC stream: no continuation marker at byte ${pos}`);
    }
    const metaLen = dv.getInt32(4, true);
    if (metaLen === 0) {
      if (index === 0) throw new IpcFormatError('stream ends before its schema');
      if (pos + 8 !== src.size) {
        throw new IpcFormatError(`${src.size - pos - 8} unexpected bytes after the end-of-stream marker`);
      }
      return;
    }
    if (metaLen < 0 || metaLen > limits.maxMetadataBytes) {
      throw new IpcFormatError(`message at byte ${pos} has an invalid metadata length ${metaLen}`);
    }
    const start = pos;
    pos += 8;
    need(metaLen, 'message metadata');
    const meta = await src.read(pos, metaLen);
    const info = decodeMetadata(meta, start);
    pos += metaLen;
    if (info.bodyLength > limits.maxBodyBytes) {
      throw new IpcFormatError(
        `message at byte ${start} has a ${info.bodyLength}-byte body, over the ${limits.maxBodyBytes}-byte limit`,
      );
    }
    need(info.bodyLength, 'message body');
    if ((index === 0) !== (info.kind === 'schema')) {
      throw new IpcFormatError(
        index === 0 ? `stream starts with a ${info.kind} message, not a schema` : `second schema at byte ${start}`,
      );
    }
    const total = 8 + metaLen + info.bodyLength;
    const bytes = await src.read(start, total);
    pos = start + total;
    index++;
    yield { ...info, bytes, offset: start };
  }
}

/** Walk the messages of an IPC stream held in memory. */
export function ipcMessagesOfBuffer(bytes: Uint8Array, limits: IpcLimits = DEFAULT_IPC_LIMITS): AsyncGenerator<IpcMessage> {
  return walk(
    {
      size: bytes.byteLength,
      read: async (offset, length) => bytes.subarray(offset, offset + length),
    },
    limits,
  );
}

/**
 * Walk the messages of an IPC stream stored in a file, reading one message at a
 * time (memory use is bounded by the largest message, not the file).
 */
export async function* ipcMessagesOfFile(
  filePath: string,
  limits: IpcLimits = DEFAULT_IPC_LIMITS,
): AsyncGenerator<IpcMessage> {
  const fh = await fs.open(filePath, 'r');
  try {
    const { size } = await fh.stat();
    const src: RangeSource = {
      size,
      async read(offset, length) {
        const buf = new Uint8Array(length);
        let done = 0;
        while (done < length) {
          const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
          if (bytesRead === 0) throw new IpcFormatError(`file shrank while reading at byte ${offset + done}`);
          done += bytesRead;
        }
        return buf;
      },
    };
    yield* walk(src, limits);
  } finally {
    await fh.close();
  }
}

/** Concatenate byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.byteLength;
  const out = new Uint8Array(len);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Tracks the dictionaries in force while walking a stream, so that a single
 * record batch can be cut out as a self-contained stream: schema, the dictionary
 * messages it depends on (the last replacement plus later deltas, per id), the
 * batch and EOS.
 */
export class DictionaryState {
  private readonly byId = new Map<number, Uint8Array[]>();

  add(msg: IpcMessage): void {
    const id = msg.dictionaryId ?? 0;
    const list = msg.isDelta ? this.byId.get(id) : undefined;
    if (msg.isDelta && !list) {
      throw new IpcFormatError(`delta for dictionary ${id} at byte ${msg.offset} before any dictionary with that id`);
    }
    if (list) list.push(msg.bytes);
    else this.byId.set(id, [msg.bytes]);
  }

  /** A self-contained IPC stream holding just `batch`. */
  standalone(schema: IpcMessage, batch: IpcMessage): Uint8Array {
    const parts: Uint8Array[] = [schema.bytes];
    for (const list of this.byId.values()) parts.push(...list);
    parts.push(batch.bytes, EOS_MARKER);
    return concatBytes(parts);
  }
}
