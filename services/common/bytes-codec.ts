/**
 * Serializers for the two messages that carry bulk Arrow bytes, written so
 * the bytes are copied once, into a buffer of the exact size:
 *
 *   ConcludeRequest { chunk: OutputChunk { output_name = 1; data = 2 } }   (field 2)
 *   FetchOutputResponse { output = 1; data = 2 }
 *
 * The generated serializers (`Buffer.from(X.encode(v).finish())`) copy the
 * bytes three times (into the writer's chunk, into finish()'s concatenation,
 * and again in Buffer.from). Every other message goes through the generated
 * code. Both produce the same wire bytes (tested against it).
 *
 * Decoding: the generated decoders copy `bytes` fields (`Buffer.from(view)`);
 * decodeConcludeRequest and decodeFetchOutputResponse return the data as a
 * view of the received message buffer instead (grpc-js hands each message its
 * own buffer), and leave every other shape to the generated decoder.
 */
import { ConcludeRequest } from '../gen/casparian/v1/dispatch';
import { FetchOutputResponse } from '../gen/casparian/v1/sentinel';
import { OutputInfo } from '../gen/casparian/v1/types';

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function putVarint(buf: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    buf[at++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[at++] = n;
  return at;
}

/** Length-delimited field: tag, length, then `parts` in order. */
function delimitedSize(len: number): number {
  return 1 + varintSize(len) + len;
}

export function encodeConcludeRequest(value: ConcludeRequest): Buffer {
  const m = value.msg;
  if (m?.$case !== 'chunk') return Buffer.from(ConcludeRequest.encode(value).finish());
  const name = Buffer.from(m.chunk.outputName, 'utf8');
  const data = m.chunk.data;
  const inner = (name.byteLength ? delimitedSize(name.byteLength) : 0) + (data.byteLength ? delimitedSize(data.byteLength) : 0);
  const buf = Buffer.allocUnsafe(delimitedSize(inner));
  let at = 0;
  buf[at++] = (2 << 3) | 2; // ConcludeRequest.chunk
  at = putVarint(buf, at, inner);
  if (name.byteLength) {
    buf[at++] = (1 << 3) | 2; // OutputChunk.output_name
    at = putVarint(buf, at, name.byteLength);
    at += name.copy(buf, at);
  }
  if (data.byteLength) {
    buf[at++] = (2 << 3) | 2; // OutputChunk.data
    at = putVarint(buf, at, data.byteLength);
    buf.set(data, at);
  }
  return buf;
}

export function encodeFetchOutputResponse(value: FetchOutputResponse): Buffer {
  const info = value.output ? OutputInfo.encode(value.output).finish() : undefined;
  const data = value.data;
  const size = (info ? delimitedSize(info.byteLength) : 0) + (data.byteLength ? delimitedSize(data.byteLength) : 0);
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  if (info) {
    buf[at++] = (1 << 3) | 2;
    at = putVarint(buf, at, info.byteLength);
    buf.set(info, at);
    at += info.byteLength;
  }
  if (data.byteLength) {
    buf[at++] = (2 << 3) | 2;
    at = putVarint(buf, at, data.byteLength);
    buf.set(data, at);
  }
  return buf;
}

function getVarint(buf: Buffer, at: number): [value: number, next: number] {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 5; i++) {
    if (at >= buf.byteLength) throw new RangeError('truncated varint');
    const b = buf[at++];
    value += (b & 0x7f) * mul;
    if (b < 0x80) return [value, at];
    mul *= 128;
  }
  throw new RangeError('varint too long for a length');
}

/**
 * ConcludeRequest from the wire: a message that is exactly one `chunk` field
 * holding `output_name` and `data` (the shape every worker sends) is decoded
 * here with `data` as a view of `buf`; anything else goes to the generated
 * decoder, which applies proto3's rules in full.
 */
export function decodeConcludeRequest(buf: Buffer): ConcludeRequest {
  try {
    if (buf.byteLength > 0 && buf[0] === ((2 << 3) | 2)) {
      const [len, start] = getVarint(buf, 1);
      if (start + len === buf.byteLength) {
        let outputName = '';
        let data: Buffer = Buffer.alloc(0);
        let at = start;
        while (at < buf.byteLength) {
          const tag = buf[at];
          if (tag !== ((1 << 3) | 2) && tag !== ((2 << 3) | 2)) break;
          const [n, from] = getVarint(buf, at + 1);
          if (from + n > buf.byteLength) break;
          if (tag === ((1 << 3) | 2)) outputName = buf.toString('utf8', from, from + n);
          else data = buf.subarray(from, from + n);
          at = from + n;
        }
        if (at === buf.byteLength) return { msg: { $case: 'chunk', chunk: { outputName, data } } };
      }
    }
  } catch {
    /* not the plain shape: the generated decoder decides */
  }
  return ConcludeRequest.decode(buf);
}

/**
 * FetchOutputResponse from the wire, `data` as a view of `buf` when the
 * message is the plain shape the Sentinel sends (optional info, then data);
 * anything else goes to the generated decoder.
 */
export function decodeFetchOutputResponse(buf: Buffer): FetchOutputResponse {
  try {
    let at = 0;
    let output: OutputInfo | undefined;
    let data: Buffer = Buffer.alloc(0);
    let lastTag = 0;
    while (at < buf.byteLength) {
      const tag = buf[at];
      if ((tag !== ((1 << 3) | 2) && tag !== ((2 << 3) | 2)) || tag <= lastTag) return FetchOutputResponse.decode(buf);
      lastTag = tag;
      const [n, from] = getVarint(buf, at + 1);
      if (from + n > buf.byteLength) return FetchOutputResponse.decode(buf);
      if (tag === ((1 << 3) | 2)) output = OutputInfo.decode(buf.subarray(from, from + n));
      else data = buf.subarray(from, from + n);
      at = from + n;
    }
    return { output, data };
  } catch {
    return FetchOutputResponse.decode(buf);
  }
}
