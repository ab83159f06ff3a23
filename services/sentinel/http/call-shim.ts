/**
 * grpc-js call objects for a call that arrived over HTTP, so that the very
 * handlers grpc-js runs (sentinel-service.ts) serve it: same validation,
 * same errors, same streams. A handler sees what it uses of a grpc-js call:
 * the request, metadata, `cancelled`, and for server streams write/end,
 * 'drain' and 'cancelled' events, and emit('error') for the final status.
 */
import { EventEmitter } from 'node:events';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';

/** What the HTTP side does with a server stream's messages and its end. */
export interface StreamSink<Res> {
  /** Returns false when the connection's buffer is full (then 'drain' follows). */
  message(msg: Res): boolean;
  end(): void;
  fail(err: Partial<ServiceError>): void;
}

/** Request metadata from HTTP headers the handlers read (traceparent, user agent); never the token. */
export function metadataFromHeaders(headers: Record<string, string | string[] | undefined>): Metadata {
  const md = new Metadata();
  for (const name of ['traceparent', 'tracestate', 'user-agent']) {
    const v = headers[name];
    if (typeof v === 'string') md.set(name, v);
  }
  return md;
}

class ShimCall<Req> extends EventEmitter {
  cancelled = false;
  constructor(
    readonly request: Req,
    readonly metadata: Metadata,
    private readonly peer: string,
  ) {
    super();
  }
  getPeer(): string {
    return this.peer;
  }
  /** The HTTP client went away: the handler stops as it would for a cancelled gRPC call. */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.emit('cancelled');
  }
}

export class UnaryShim<Req> extends ShimCall<Req> {}

export class ServerStreamShim<Req, Res> extends ShimCall<Req> {
  private ended = false;
  constructor(request: Req, metadata: Metadata, peer: string, private readonly sink: StreamSink<Res>) {
    super(request, metadata, peer);
    // grpc-js reports a failed stream by an emitted 'error' (rpc-adapters.ts failCall).
    this.on('error', (err: Partial<ServiceError>) => {
      if (this.ended) return;
      this.ended = true;
      this.sink.fail({ code: err.code ?? status.UNKNOWN, details: err.details ?? err.message });
    });
  }
  write(msg: Res): boolean {
    if (this.ended || this.cancelled) return false;
    return this.sink.message(msg);
  }
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.sink.end();
  }
  /** The connection's buffer emptied. */
  drained(): void {
    this.emit('drain');
  }
}
