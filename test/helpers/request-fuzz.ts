/**
 * Random but well-formed protobuf requests for a service, built from the
 * repo's descriptor set (services/gen/descriptor-set.binpb) with
 * @bufbuild/protobuf's reflection, and sent as raw bytes with grpc-js, so
 * that the services' own decoders see them exactly as a client in any
 * language would send them. Seeded: the same seed makes the same requests.
 */
import * as grpc from '@grpc/grpc-js';
import { create, ScalarType, toBinary, type DescField, type DescMessage, type DescMethod } from '@bufbuild/protobuf';
import { protoRegistry } from '../../services/common/proto-json';

export function serviceMethods(service: string): DescMethod[] {
  const svc = protoRegistry().getService(service);
  if (!svc) throw new Error(`no service ${service} in the descriptor set`);
  return svc.methods;
}

/** A small deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STRINGS = ['', 'x', 'sales_orders', '1.0.0', '/etc/passwd', '../../x', 'a'.repeat(300), 'ü\u0000☃', 'queued', '00000000-0000-0000-0000-000000000000', '*'];

export class RequestFuzzer {
  constructor(private readonly rand: () => number) {}

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rand() * xs.length)];
  }

  private scalar(t: ScalarType): unknown {
    const r = this.rand();
    switch (t) {
      case ScalarType.STRING:
        return this.pick(STRINGS);
      case ScalarType.BYTES:
        return Uint8Array.from({ length: Math.floor(this.rand() * 16) }, () => Math.floor(this.rand() * 256));
      case ScalarType.BOOL:
        return r < 0.5;
      case ScalarType.DOUBLE:
      case ScalarType.FLOAT:
        return this.pick([0, -1, 1.5, 1e308, Number.NaN]);
      case ScalarType.INT64:
      case ScalarType.SINT64:
      case ScalarType.SFIXED64:
        return this.pick([0n, 1n, -1n, 2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n]);
      case ScalarType.UINT64:
      case ScalarType.FIXED64:
        return this.pick([0n, 1n, 2n ** 53n + 1n, 2n ** 64n - 1n]);
      case ScalarType.UINT32:
      case ScalarType.FIXED32:
        return this.pick([0, 1, 7, 2 ** 32 - 1]);
      default:
        return this.pick([0, 1, -1, 2 ** 31 - 1, -(2 ** 31)]);
    }
  }

  private enumValue(field: { enum: { values: readonly { number: number }[] } }): number {
    return this.rand() < 0.2 ? 99 : this.pick(field.enum.values).number;
  }

  private value(field: DescField, depth: number): unknown {
    switch (field.fieldKind) {
      case 'scalar':
        return this.scalar(field.scalar);
      case 'enum':
        return this.enumValue(field);
      case 'message':
        return this.init(field.message, depth + 1);
      case 'list': {
        const n = Math.floor(this.rand() * 3);
        return Array.from({ length: n }, () =>
          field.listKind === 'scalar' ? this.scalar(field.scalar) : field.listKind === 'enum' ? this.enumValue(field) : this.init(field.message, depth + 1),
        );
      }
      case 'map': {
        const out: Record<string, unknown> = {};
        for (let i = Math.floor(this.rand() * 3); i > 0; i--) {
          const k = String(this.scalar(field.mapKey));
          out[k] = field.mapKind === 'scalar' ? this.scalar(field.scalar) : field.mapKind === 'enum' ? this.enumValue(field) : this.init(field.message, depth + 1);
        }
        return out;
      }
    }
  }

  /** An init object for `desc`: each field set with probability 0.6, one member of each oneof or none; nesting stops at depth 3. */
  init(desc: DescMessage, depth = 0): Record<string, unknown> {
    const init: Record<string, unknown> = {};
    if (depth > 3) return init;
    for (const field of desc.fields) {
      if (field.oneof || this.rand() > 0.6) continue;
      init[field.localName] = this.value(field, depth);
    }
    for (const oneof of desc.oneofs) {
      if (this.rand() < 0.15) continue;
      const member = this.pick(oneof.fields);
      init[oneof.localName] = { case: member.localName, value: this.value(member, depth) };
    }
    return init;
  }

  /** The bytes of one random request of `desc`. */
  bytes(desc: DescMessage): Buffer {
    return Buffer.from(toBinary(desc, create(desc, this.init(desc) as never)));
  }
}

const raw = (b: Buffer): Buffer => b;

/** Sends `messages` to `method` as raw bytes; resolves to the call's final status code. */
export function callRaw(client: grpc.Client, service: string, method: DescMethod, messages: Buffer[], deadlineMs: number, md = new grpc.Metadata()): Promise<{ code: grpc.status; details: string }> {
  const path = `/${service}/${method.name}`;
  const opts = { deadline: Date.now() + deadlineMs };
  return new Promise((resolve) => {
    const done = (err: grpc.ServiceError | null): void => resolve({ code: err ? err.code : grpc.status.OK, details: err?.details ?? '' });
    switch (method.methodKind) {
      case 'unary':
        client.makeUnaryRequest(path, raw, raw, messages[0], md, opts, (err) => done(err));
        return;
      case 'server_streaming': {
        const call = client.makeServerStreamRequest(path, raw, raw, messages[0], md, opts);
        call.on('data', () => undefined);
        call.on('error', done);
        call.on('end', () => done(null));
        return;
      }
      case 'client_streaming': {
        const call = client.makeClientStreamRequest(path, raw, raw, md, opts, (err) => done(err));
        for (const m of messages) call.write(m);
        call.end();
        return;
      }
      case 'bidi_streaming': {
        const call = client.makeBidiStreamRequest(path, raw, raw, md, opts);
        call.on('data', () => undefined);
        call.on('error', done);
        call.on('end', () => done(null));
        for (const m of messages) call.write(m);
        call.end();
        return;
      }
    }
  });
}
