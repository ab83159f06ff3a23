/**
 * Server-streaming calls over SSE: the same POST as a unary call with
 * `Accept: text/event-stream`, read with fetch and a stream parser rather than
 * EventSource, which can neither POST nor send an Authorization header. Each
 * `message` event's data is one response message; the stream ends with an
 * `end` event, or an `error` event carrying `{code, message}`. A stream that
 * stops without either was cut (server gone, proxy timeout): "unavailable".
 */
import { authHeaders } from './auth';
import { checkResponse, methodUrl } from './client';
import { ApiError, errorFromBody } from './errors';
import type { Streams } from './types';

export interface SseEvent {
  event: string;
  data: string;
}

/**
 * Splits an SSE byte stream into events (the WHATWG event-stream format:
 * `field: value` lines, events ended by a blank line, `:` comments, CR/LF/CRLF).
 */
export class SseParser {
  private buf = '';
  private event = '';
  private data: string[] = [];

  /** Feed decoded text; returns the events it completed. */
  push(text: string): SseEvent[] {
    this.buf += text;
    const out: SseEvent[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      if (!m) break;
      // A lone CR at the end of the buffer may be half of a CRLF: wait for more.
      if (m[0] === '\r' && m.index === this.buf.length - 1) break;
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      if (line === '') {
        if (this.data.length || this.event) out.push({ event: this.event || 'message', data: this.data.join('\n') });
        this.event = '';
        this.data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') this.event = value;
      else if (field === 'data') this.data.push(value);
    }
    return out;
  }
}

export interface StreamOptions {
  signal?: AbortSignal;
  /** Called once the server has accepted the call (the response headers arrived). */
  onOpen?: () => void;
}

/** Run a server stream, calling `onMessage` for each message; resolves at `end`, rejects with an ApiError otherwise. */
export async function stream<M extends keyof Streams>(
  method: M,
  req: Streams[M][0],
  onMessage: (msg: Streams[M][1]) => void,
  opts: StreamOptions = {},
): Promise<void> {
  let res: Response;
  try {
    res = await fetch(methodUrl(method), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream', ...authHeaders() },
      body: JSON.stringify(req),
      signal: opts.signal,
    });
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    throw ApiError.from(err);
  }
  await checkResponse(res);
  if (!res.body) throw new ApiError('unknown', 'the stream has no body');
  opts.onOpen?.();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<string>;
      try {
        chunk = await reader.read();
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        throw ApiError.from(err);
      }
      if (chunk.done) throw new ApiError('unavailable', `the ${method} stream closed before it ended`);
      for (const ev of parser.push(chunk.value)) {
        if (ev.event === 'message') onMessage(JSON.parse(ev.data) as Streams[M][1]);
        else if (ev.event === 'end') return;
        else if (ev.event === 'error') throw errorFromBody(0, ev.data);
      }
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
}
