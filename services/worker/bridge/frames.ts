/**
 * Bridge socket frames: `[kind u8][length u32 big-endian][payload]`.
 * JSON payloads are UTF-8 JSON objects; ARROW payloads are raw Arrow IPC
 * stream bytes. See docs/bridge-protocol.md for the conversation.
 */

export const FRAME_HEADER_BYTES = 5;

/** Frame kinds. 0x0_ travel worker → guest, 0x1_ guest → worker. */
export const FrameKind = {
  JOB_SPEC: 0x01,
  CANCEL: 0x02,
  HELLO: 0x10,
  OUTPUT_BEGIN: 0x11,
  ARROW: 0x12,
  OUTPUT_END: 0x13,
  LOG: 0x14,
  PROGRESS: 0x15,
  METRICS: 0x16,
  ERROR: 0x17,
  DONE: 0x18,
} as const;
export type FrameKindName = keyof typeof FrameKind;
export type FrameKindCode = (typeof FrameKind)[FrameKindName];

const NAMES = new Map<number, FrameKindName>(
  (Object.entries(FrameKind) as [FrameKindName, number][]).map(([name, code]) => [code, name]),
);

/** Name of a kind code, or `0x..` for an unknown one. */
export function frameKindName(kind: number): string {
  return NAMES.get(kind) ?? `0x${kind.toString(16).padStart(2, '0')}`;
}

/** Kinds the guest may send. */
export const GUEST_KINDS: ReadonlySet<number> = new Set([
  FrameKind.HELLO,
  FrameKind.OUTPUT_BEGIN,
  FrameKind.ARROW,
  FrameKind.OUTPUT_END,
  FrameKind.LOG,
  FrameKind.PROGRESS,
  FrameKind.METRICS,
  FrameKind.ERROR,
  FrameKind.DONE,
]);

/** Default cap on a guest frame's payload: 4 MiB (the shim never sends ARROW payloads over 1 MiB). */
export const DEFAULT_MAX_FRAME_PAYLOAD = 4 * 1024 * 1024;
/** Largest payload the u32 length field can describe. */
export const MAX_U32 = 0xffffffff;

export interface Frame {
  kind: number;
  payload: Buffer;
}

/** A byte stream that is not a valid sequence of frames. */
export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

export function encodeFrame(kind: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  if (!Number.isInteger(kind) || kind < 0 || kind > 0xff) throw new RangeError(`frame kind ${kind} is not a u8`);
  if (payload.length > MAX_U32) throw new RangeError(`frame payload of ${payload.length} bytes does not fit a u32`);
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt8(kind, 0);
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

export function encodeJsonFrame(kind: number, value: Record<string, unknown>): Buffer {
  return encodeFrame(kind, Buffer.from(JSON.stringify(value), 'utf8'));
}

/** Parse a JSON frame payload; it must be a JSON object. */
export function decodeJsonPayload(frame: Frame): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(frame.payload));
  } catch (e) {
    throw new FrameError(`${frameKindName(frame.kind)} payload is not UTF-8 JSON: ${(e as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new FrameError(`${frameKindName(frame.kind)} payload is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * Incremental frame decoder. Feed it chunks as they arrive; it returns the
 * frames completed so far and keeps the remainder. Chunks are concatenated
 * only once per frame, so a 1 MiB frame arriving in 64 KiB pieces costs one
 * copy, not sixteen.
 *
 * A header announcing a payload larger than `maxPayload` throws FrameError at
 * once, before any of that payload is buffered.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed = false;

  constructor(private readonly maxPayload: number = DEFAULT_MAX_FRAME_PAYLOAD) {
    if (!Number.isInteger(maxPayload) || maxPayload < 0 || maxPayload > MAX_U32) {
      throw new RangeError(`maxPayload must be an integer between 0 and ${MAX_U32}`);
    }
  }

  /** Bytes received but not yet returned as frames. */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): Frame[] {
    if (this.failed) throw new FrameError('frame reader already failed');
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Frame[] = [];
    while (this.buffered >= FRAME_HEADER_BYTES) {
      const head = this.peek(FRAME_HEADER_BYTES);
      const kind = head.readUInt8(0);
      const length = head.readUInt32BE(1);
      if (length > this.maxPayload) {
        this.failed = true;
        throw new FrameError(
          `${frameKindName(kind)} frame of ${length} bytes exceeds the ${this.maxPayload}-byte frame limit`,
        );
      }
      if (this.buffered < FRAME_HEADER_BYTES + length) break;
      const whole = this.take(FRAME_HEADER_BYTES + length);
      frames.push({ kind, payload: whole.subarray(FRAME_HEADER_BYTES) });
    }
    return frames;
  }

  /** The first n buffered bytes (n <= buffered), without consuming them. */
  private peek(n: number): Buffer {
    if (this.chunks[0].length < n) {
      let count = 0;
      let len = 0;
      while (len < n) len += this.chunks[count++].length;
      this.chunks.splice(0, count, Buffer.concat(this.chunks.slice(0, count), len));
    }
    return this.chunks[0].subarray(0, n);
  }

  /** Remove and return the first n buffered bytes (n <= buffered). */
  private take(n: number): Buffer {
    let out: Buffer;
    const first = this.chunks[0];
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const parts: Buffer[] = [];
      let need = n;
      while (need > 0) {
        const c = this.chunks[0];
        if (c.length <= need) {
          parts.push(c);
          this.chunks.shift();
          need -= c.length;
        } else {
          parts.push(c.subarray(0, need));
          this.chunks[0] = c.subarray(need);
          need = 0;
        }
      }
      out = Buffer.concat(parts, n);
    }
    this.buffered -= n;
    return out;
  }
}
