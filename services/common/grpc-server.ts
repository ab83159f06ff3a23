/**
 * A grpc-js server with what a service mesh and grpcurl expect: grpc.health.v1
 * and server reflection (from the descriptor set buf builds), plus message
 * size limits and a shutdown that never hangs (tryShutdown, then
 * forceShutdown after a deadline).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { tokenInterceptor } from './auth/guard';
import { decodeFailureInterceptor, guardDecoding } from './decode-guard';
import * as protoLoader from '@grpc/proto-loader';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type DescriptorProto } from '@bufbuild/protobuf/wkt';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import { DEFAULT_KEEPALIVE, type ConnectionAge, type Keepalive } from './config';

/** Message size limit (both directions). Chunks are ≤ 1 MiB; requests with a plugin source may be larger. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export const DESCRIPTOR_SET_PATH = path.resolve(__dirname, '..', '..', '..', 'services', 'gen', 'descriptor-set.binpb');

/** A client's channel options; with `token`, every call sends it as `authorization: Bearer`. */
export function channelOptions(token?: string): grpc.ChannelOptions {
  return {
    ...(token ? { interceptors: [tokenInterceptor(token)] } : {}),
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.keepalive_time_ms': 20_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
  };
}

export interface ManagedServer {
  server: grpc.Server;
  health: HealthImplementation;
  port: number;
  /**
   * Drain (false) or undrain (true): while draining every health name reports
   * NOT_SERVING whatever setHealth says.
   */
  setServing(serving: boolean): void;
  /**
   * One health name's own readiness (a served service's name, or one of
   * `healthNames`); reported as is unless draining. "" follows setServing only.
   */
  setHealth(name: string, serving: boolean): void;
  /** Graceful stop; forces after graceMs. Idempotent. Resolves to how it ended. */
  shutdown(graceMs?: number): Promise<'graceful' | 'forced'>;
}

export async function startServer(opts: {
  host: string;
  port: number;
  services: { name: string; definition: grpc.ServiceDefinition; impl: grpc.UntypedServiceImplementation }[];
  credentials?: grpc.ServerCredentials;
  keepalive?: Keepalive;
  /** Run before every handler (e.g. services/common/auth/guard.ts). */
  interceptors?: grpc.ServerInterceptor[];
  /** HTTP/2 streams one connection may have open at once; default 1000. */
  maxConcurrentStreams?: number;
  /** Close connections older than this (GOAWAY, then a grace period); absent or 0 = never. */
  connectionAge?: ConnectionAge;
  /** Health names besides "" and the services' (e.g. a readiness of one part), SERVING until setHealth says otherwise. */
  healthNames?: string[];
  /** Services' health names that start NOT_SERVING (their owner calls setHealth when ready). */
  startNotServing?: string[];
}): Promise<ManagedServer> {
  const keepalive = opts.keepalive ?? DEFAULT_KEEPALIVE;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.keepalive_time_ms': keepalive.timeMs,
    'grpc.keepalive_timeout_ms': keepalive.timeoutMs,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5_000,
    'grpc.max_concurrent_streams': opts.maxConcurrentStreams ?? 1_000,
    ...(opts.connectionAge?.maxAgeMs
      ? { 'grpc.max_connection_age_ms': opts.connectionAge.maxAgeMs, 'grpc.max_connection_age_grace_ms': opts.connectionAge.graceMs }
      : {}),
    interceptors: [...(opts.interceptors ?? []), decodeFailureInterceptor],
  });
  for (const s of opts.services) server.addService(guardDecoding(s.definition), s.impl);

  const names = ['', ...opts.services.map((s) => s.name), ...(opts.healthNames ?? [])];
  const ready = new Map(names.map((n) => [n, !(opts.startNotServing ?? []).includes(n)]));
  let draining = false;
  const health = new HealthImplementation(Object.fromEntries(names.map((n) => [n, ready.get(n) ? 'SERVING' : 'NOT_SERVING'])));
  const shown = new Map(names.map((n) => [n, ready.get(n)]));
  // Watchers hear a status only when it changes.
  const report = (n: string): void => {
    const now = !draining && ready.get(n) === true;
    if (shown.get(n) === now) return;
    shown.set(n, now);
    health.setStatus(n, now ? 'SERVING' : 'NOT_SERVING');
  };
  health.addToServer(server);

  // Reflection describes exactly what this server serves: its own services
  // (from the buf-built descriptor set) and grpc.health.v1.
  const pkg = {
    ...withOriginalFiles(fs.readFileSync(DESCRIPTOR_SET_PATH)),
    ...withQualifiedNames(protoLoader.loadSync(healthProtoPath)),
  };
  new ReflectionService(pkg, { services: [...opts.services.map((s) => s.name), 'grpc.health.v1.Health'] }).addToServer(server);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${opts.host}:${opts.port}`, opts.credentials ?? grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );

  let stopping: Promise<'graceful' | 'forced'> | undefined;
  return {
    server,
    health,
    port,
    setServing(serving) {
      draining = !serving;
      for (const n of names) report(n);
    },
    setHealth(name, serving) {
      if (!ready.has(name) || name === '') throw new Error(`no health name ${JSON.stringify(name)} on this server`);
      if (ready.get(name) === serving) return;
      ready.set(name, serving);
      report(name);
    },
    shutdown(graceMs = 5_000) {
      stopping ??= new Promise<'graceful' | 'forced'>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve('forced');
        }, graceMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve('graceful');
        });
      });
      return stopping;
    },
  };
}

/**
 * proto-loader rebuilds each file's descriptor from protobufjs's reflection
 * objects, which loses what protoc and buf write: fully qualified type names,
 * each file's imports, and json_name. grpcurl links the files reflection
 * sends by their imports, so it needs those. The reflection service reads the
 * files from each definition's fileDescriptorProtos: hand it buf's own.
 */
function withOriginalFiles(descriptorSet: Buffer): protoLoader.PackageDefinition {
  const pkg = protoLoader.loadFileDescriptorSetFromBuffer(descriptorSet);
  const files = fromBinary(FileDescriptorSetSchema, descriptorSet).file.map((f) => Buffer.from(toBinary(FileDescriptorProtoSchema, f)));
  for (const def of Object.values(pkg)) if ('fileDescriptorProtos' in def) def.fileDescriptorProtos = files;
  return pkg;
}

/**
 * grpc.health.v1 comes from a .proto file proto-loader parses (no descriptor
 * set of ours has it): its rebuilt files name types as written
 * (`HealthCheckResponse`). Those are made fully qualified, and json_name set,
 * as protoc writes them. The file imports nothing, so types resolve within it.
 */
function withQualifiedNames(pkg: protoLoader.PackageDefinition): protoLoader.PackageDefinition {
  const fixed = new Map<Buffer, Buffer>();
  const qualify = (b: Buffer): Buffer => {
    const f = fromBinary(FileDescriptorProtoSchema, b);
    const names = new Set<string>();
    const collect = (prefix: string, msgs: DescriptorProto[], enums: { name: string }[]): void => {
      for (const e of enums) names.add(`${prefix}.${e.name}`);
      for (const m of msgs) {
        names.add(`${prefix}.${m.name}`);
        collect(`${prefix}.${m.name}`, m.nestedType, m.enumType);
      }
    };
    const pkgName = f.package ? `.${f.package}` : '';
    collect(pkgName, f.messageType, f.enumType);
    // Protobuf's scoping: the innermost enclosing scope that defines the name.
    const resolve = (scope: string, name: string): string => {
      if (!name || name.startsWith('.')) return name;
      for (let s = scope; ; s = s.slice(0, Math.max(0, s.lastIndexOf('.')))) {
        if (names.has(`${s}.${name}`)) return `${s}.${name}`;
        if (!s) return name;
      }
    };
    const fix = (scope: string, msgs: DescriptorProto[]): void => {
      for (const m of msgs) {
        const inner = `${scope}.${m.name}`;
        for (const field of m.field) {
          field.typeName = resolve(inner, field.typeName);
          if (!field.jsonName) field.jsonName = field.name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
        }
        fix(inner, m.nestedType);
      }
    };
    fix(pkgName, f.messageType);
    for (const svc of f.service) for (const m of svc.method) [m.inputType, m.outputType] = [resolve(pkgName, m.inputType), resolve(pkgName, m.outputType)];
    return Buffer.from(toBinary(FileDescriptorProtoSchema, f));
  };
  for (const def of Object.values(pkg)) {
    if (!('fileDescriptorProtos' in def) || !Array.isArray(def.fileDescriptorProtos)) continue;
    def.fileDescriptorProtos = def.fileDescriptorProtos.map((b: Buffer) => {
      let q = fixed.get(b);
      if (!q) fixed.set(b, (q = qualify(b)));
      return q;
    });
  }
  return pkg;
}
