/**
 * The Sentinel's client API over HTTP/1.1 with JSON, in the Connect
 * protocol's unary shape, for curl, browsers and the web console:
 *
 *  - `POST /casparian.v1.Sentinel/{Method}` with `Content-Type:
 *    application/json` and the request as proto3 JSON answers 200 with the
 *    response as canonical proto3 JSON (what grpcurl prints), or an error
 *    status with `{"code": "not_found", "message": "…"}`;
 *  - a server-streaming method (WatchJob, WatchJobs, Query, FetchOutput,
 *    SubmitScan) answers with server-sent events: one `message` event per
 *    response message, then `end`, or `error` with the same code and
 *    message. POST it with `Accept: text/event-stream`, or GET it with the
 *    request in `?message=` (EventSource can only GET);
 *  - `Authorization: Bearer TOKEN` when the Sentinel requires tokens.
 *
 * Nothing here knows a method: every call goes to the grpc-js handler the
 * gRPC server runs, through the generated service definition's own
 * (de)serializers, so the two surfaces cannot drift. The worker-facing
 * streams (Dispatch, Conclude) are not served here.
 */
import type * as http from 'node:http';
import { status, type Metadata, type ServiceDefinition, type ServiceError, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { DescMethod, JsonValue } from '@bufbuild/protobuf';
import type { Logger } from '../../common/logger';
import { bytesToJson, jsonToBytes, methodByPath } from '../../common/proto-json';
import { MAX_MESSAGE_BYTES } from '../../common/grpc-server';
import { metadataFromHeaders, ServerStreamShim, UnaryShim } from './call-shim';

/** Connect's name and HTTP status of each gRPC code. */
const CONNECT: Record<number, [string, number]> = {
  [status.CANCELLED]: ['canceled', 499],
  [status.UNKNOWN]: ['unknown', 500],
  [status.INVALID_ARGUMENT]: ['invalid_argument', 400],
  [status.DEADLINE_EXCEEDED]: ['deadline_exceeded', 504],
  [status.NOT_FOUND]: ['not_found', 404],
  [status.ALREADY_EXISTS]: ['already_exists', 409],
  [status.PERMISSION_DENIED]: ['permission_denied', 403],
  [status.RESOURCE_EXHAUSTED]: ['resource_exhausted', 429],
  [status.FAILED_PRECONDITION]: ['failed_precondition', 400],
  [status.ABORTED]: ['aborted', 409],
  [status.OUT_OF_RANGE]: ['out_of_range', 400],
  [status.UNIMPLEMENTED]: ['unimplemented', 501],
  [status.INTERNAL]: ['internal', 500],
  [status.UNAVAILABLE]: ['unavailable', 503],
  [status.DATA_LOSS]: ['data_loss', 500],
  [status.UNAUTHENTICATED]: ['unauthenticated', 401],
};

export function connectCode(code: number): string {
  return CONNECT[code]?.[0] ?? 'unknown';
}

/** A JSON body is at most this long: a gRPC message's limit, grown by base64 and JSON quoting. */
export const MAX_JSON_BYTES = 2 * MAX_MESSAGE_BYTES;
/** A comment line on idle event streams, so proxies do not time them out. */
const SSE_KEEPALIVE_MS = 15_000;

export interface HttpApiOptions {
  /** "casparian.v1.Sentinel" */
  service: string;
  definition: ServiceDefinition;
  impl: UntypedServiceImplementation;
  /** Why a call to this gRPC path is refused (the same check the gRPC server's guard makes); undefined = allowed. */
  authorize?: (path: string, authorization: string | undefined) => { code: status; details: string } | undefined;
  logger: Logger;
  /** Counts each call by method and final code (the gRPC counter's labels). */
  count?: (method: string, code: string) => void;
}

class HttpError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

type Handler = (call: unknown, cb?: (err: Partial<ServiceError> | null, res?: unknown) => void) => void;

export class HttpApi {
  private readonly byPath = new Map<string, { key: string; desc: DescMethod; def: ServiceDefinition[string] }>();

  constructor(private readonly o: HttpApiOptions) {
    for (const [key, def] of Object.entries(o.definition)) {
      if (def.requestStream) continue; // Dispatch, Conclude: workers speak gRPC
      const desc = methodByPath(def.path);
      if (!desc) throw new Error(`${def.path} is not in the descriptor set`);
      this.byPath.set(def.path, { key, desc, def });
    }
  }

  /** The paths served, e.g. for docs and tests. */
  get paths(): string[] {
    return [...this.byPath.keys()];
  }

  /** Whether `url` is an API path this serves (a method of the service, known or not). */
  owns(pathname: string): boolean {
    return pathname.startsWith(`/${this.o.service}/`);
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const path = url.pathname;
    const m = this.byPath.get(path);
    const method = path.split('/').pop() ?? path;
    const finish = (code: status): void => this.o.count?.(method, status[code] ?? String(code));
    try {
      if (!m) throw new HttpError(status.UNIMPLEMENTED, `no method ${JSON.stringify(method)} in ${this.o.service} over HTTP; methods: ${[...this.byPath.values()].map((x) => x.desc.name).join(', ')}`);
      const stream = m.def.responseStream;
      const wantsEvents = stream && (req.method === 'GET' || (req.headers.accept ?? '').includes('text/event-stream'));
      if (req.method === 'GET') {
        if (!stream) throw new HttpError(status.UNIMPLEMENTED, `${method} is unary: POST it with Content-Type: application/json`);
      } else if (req.method !== 'POST') {
        res.setHeader('allow', stream ? 'GET, POST' : 'POST');
        throw new HttpError(status.UNIMPLEMENTED, `${req.method} is not served; POST ${path} with a JSON body`);
      }
      if (stream && !wantsEvents) throw new HttpError(status.INVALID_ARGUMENT, `${method} is a server stream: send "Accept: text/event-stream" to read it as server-sent events`);
      const denial = this.o.authorize?.(path, typeof req.headers.authorization === 'string' ? req.headers.authorization : undefined);
      if (denial) throw new HttpError(denial.code, denial.details);
      const json = req.method === 'GET' ? parseJson(url.searchParams.get('message') ?? '{}', 'the message parameter') : await readJsonBody(req);
      let bytes: Uint8Array;
      try {
        bytes = jsonToBytes(m.desc.input, json);
      } catch (err) {
        throw new HttpError(status.INVALID_ARGUMENT, `the request is not a valid ${m.desc.input.typeName}: ${(err as Error).message}`);
      }
      const request = m.def.requestDeserialize(Buffer.from(bytes));
      const md = metadataFromHeaders(req.headers);
      const peer = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? 0}`;
      const handler = (this.o.impl as Record<string, Handler>)[m.key];
      if (stream) await this.serveStream(m, handler, request, md, peer, req, res, finish);
      else await this.serveUnary(m, handler, request, md, peer, res, finish);
    } catch (err) {
      const e = err instanceof HttpError ? err : new HttpError(status.INTERNAL, `internal error serving ${method} over HTTP; see the server log`);
      if (!(err instanceof HttpError)) this.o.logger.error('http api failed', { method, error: String((err as Error)?.stack ?? err) });
      sendError(res, e.code, e.message);
      finish(e.code);
    }
  }

  private serveUnary(m: { desc: DescMethod; def: ServiceDefinition[string] }, handler: Handler, request: unknown, md: Metadata, peer: string, res: http.ServerResponse, finish: (c: status) => void): Promise<void> {
    return new Promise<void>((resolve) => {
      const call = new UnaryShim(request, md, peer);
      res.once('close', () => call.cancel());
      handler(call, (err, out) => {
        if (err) {
          const code = err.code ?? status.UNKNOWN;
          sendError(res, code, err.details ?? err.message ?? '');
          finish(code);
        } else {
          const body = JSON.stringify(bytesToJson(m.desc.output, m.def.responseSerialize(out)));
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
          finish(status.OK);
        }
        resolve();
      });
    });
  }

  private serveStream(
    m: { desc: DescMethod; def: ServiceDefinition[string] },
    handler: Handler,
    request: unknown,
    md: Metadata,
    peer: string,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    finish: (c: status) => void,
  ): Promise<void> {
    return new Promise<void>((resolve) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
      res.flushHeaders();
      const keepalive = setInterval(() => res.write(': keepalive\n\n'), SSE_KEEPALIVE_MS);
      keepalive.unref();
      const done = (code: status): void => {
        clearInterval(keepalive);
        finish(code);
        resolve();
      };
      const call = new ServerStreamShim(request, md, peer, {
        message: (msg) => res.write(event('message', bytesToJson(m.desc.output, m.def.responseSerialize(msg)))),
        end: () => {
          res.end(event('end', {}));
          done(status.OK);
        },
        fail: (err) => {
          const code = err.code ?? status.UNKNOWN;
          res.end(event('error', { code: connectCode(code), message: err.details ?? '' }));
          done(code);
        },
      });
      res.on('drain', () => call.drained());
      // The client closed the stream (or the connection broke) before the end.
      res.once('close', () => {
        if (res.writableFinished) return;
        call.cancel();
        done(status.CANCELLED);
      });
      req.resume();
      handler(call);
    });
  }
}

function event(name: string, data: JsonValue): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function sendError(res: http.ServerResponse, code: status, message: string): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const [name, httpStatus] = CONNECT[code] ?? ['unknown', 500];
  const body = JSON.stringify({ code: name, message });
  res.writeHead(httpStatus, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

function parseJson(text: string, what: string): JsonValue {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    throw new HttpError(status.INVALID_ARGUMENT, `${what} is not JSON: ${(err as Error).message}`);
  }
}

function readJsonBody(req: http.IncomingMessage): Promise<JsonValue> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') {
    req.resume();
    return Promise.reject(new HttpError(status.INVALID_ARGUMENT, `send the request as JSON with "Content-Type: application/json" (got ${type ? JSON.stringify(type) : 'none'})`));
  }
  // Read to the end even past the limit (then drop it), so the error response reaches the client.
  return new Promise<JsonValue>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_JSON_BYTES) chunks.push(chunk);
      else chunks.length = 0;
    });
    req.once('error', reject);
    req.once('end', () => {
      if (size > MAX_JSON_BYTES) return reject(new HttpError(status.RESOURCE_EXHAUSTED, `the request body is larger than ${MAX_JSON_BYTES} bytes`));
      try {
        resolve(parseJson(Buffer.concat(chunks).toString('utf8'), 'the request body'));
      } catch (err) {
        reject(err);
      }
    });
  });
}
