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
 * code. Both produce the same wire bytes (tested against it); decoding stays
 * generated (it returns a view of the received buffer, no copy).
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
