/**
 * One Sentinel method called with a JSON request, two ways: over the HTTP/JSON
 * API (as curl or a browser would), and over gRPC with the request made from
 * the same JSON and the response printed as canonical proto3 JSON (as grpcurl
 * would). Both give an Outcome, so tests can compare the two surfaces.
 */
import * as grpc from '@grpc/grpc-js';
import type { JsonValue } from '@bufbuild/protobuf';
import { channelOptions } from '../../services/common/grpc-server';
import { bytesToJson, jsonToBytes, methodByPath } from '../../services/common/proto-json';
import { connectCode } from '../../services/sentinel/http/http-api';

export const SERVICE = 'casparian.v1.Sentinel';

/** A unary call's response, or a stream's messages, or the error it ended with (Connect's code names). */
export type Outcome = { ok: JsonValue } | { messages: JsonValue[] } | { error: { code: string; message: string }; messages?: JsonValue[] };


export function isStream(method: string): boolean {
  const m = methodByPath(`/${SERVICE}/${method}`);
  if (!m) throw new Error(`no method ${method}`);
  return m.methodKind === 'server_streaming';
}

/** POST /casparian.v1.Sentinel/{method}; server streams are read as server-sent events. */
export async function httpJson(base: string, method: string, body: JsonValue, token?: string): Promise<Outcome> {
  const stream = isStream(method);
  const res = await fetch(`${base}/${SERVICE}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(stream ? { accept: 'text/event-stream' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  if (!stream || res.status !== 200) {
    const json = (await res.json()) as JsonValue;
    if (res.status === 200) return { ok: json };
    return { error: json as { code: string; message: string } };
  }
  if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) throw new Error(`${method}: not an event stream: ${res.headers.get('content-type')}`);
  return readEvents(await res.text());
}

/** A whole server-sent event stream's messages and its end. */
export function readEvents(text: string): Outcome {
  const messages: JsonValue[] = [];
  for (const block of text.split('\n\n')) {
    const lines = block.split('\n').filter((l) => l && !l.startsWith(':'));
    if (lines.length === 0) continue;
    const name = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message';
    const data = JSON.parse(lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n')) as JsonValue;
    if (name === 'message') messages.push(data);
    else if (name === 'end') return { messages };
    else if (name === 'error') return { error: data as { code: string; message: string }, messages };
  }
  throw new Error(`the event stream ended without an end or error event:\n${text.slice(-500)}`);
}

/** The same call over gRPC, raw bytes in and out, through the descriptor set. */
export function grpcJson(address: string, method: string, body: JsonValue, token?: string): Promise<Outcome> {
  const desc = methodByPath(`/${SERVICE}/${method}`);
  if (!desc) throw new Error(`no method ${method}`);
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), channelOptions(token));
  const path = `/${SERVICE}/${method}`;
  const ident = (b: Buffer): Buffer => b;
  const req = Buffer.from(jsonToBytes(desc.input, body));
  const fail = (err: grpc.ServiceError) => ({ error: { code: connectCode(err.code), message: err.details } });
  return new Promise<Outcome>((resolve) => {
    if (desc.methodKind === 'server_streaming') {
      const messages: JsonValue[] = [];
      const call = client.makeServerStreamRequest(path, ident, ident, req);
      call.on('data', (b: Buffer) => messages.push(bytesToJson(desc.output, b)));
      call.on('error', (err: grpc.ServiceError) => resolve({ ...fail(err), messages }));
      call.on('end', () => resolve({ messages }));
    } else {
      client.makeUnaryRequest(path, ident, ident, req, (err, res) => resolve(err ? fail(err) : { ok: bytesToJson(desc.output, res!) }));
    }
  }).finally(() => client.close());
}
