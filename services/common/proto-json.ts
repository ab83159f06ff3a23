/**
 * Canonical proto3 JSON for the Sentinel's messages, the mapping grpcurl and
 * every protobuf runtime print: enum names, int64/uint64 as strings,
 * lowerCamelCase field names, bytes as base64, Timestamps as RFC 3339, and
 * fields at their default value left out.
 *
 * The generated TypeScript (ts-proto) is what the handlers and the CLI hold;
 * its own toJSON is not canonical (int64 as numbers, defaults kept). So a
 * message goes through its binary form: ts-proto encodes it, and
 * @bufbuild/protobuf reads the bytes against the descriptor set buf builds
 * from proto/ and writes the JSON. Reading JSON is the same in reverse. Both
 * ends therefore see exactly what a gRPC client in any language would.
 */
import * as fs from 'node:fs';
import { createFileRegistry, fromBinary, fromJson, toBinary, toJson, type DescMessage, type DescMethod, type JsonValue, type Registry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { DESCRIPTOR_SET_PATH } from './grpc-server';

let registry: Registry | undefined;

/** Every message, enum and service of proto/ (and the well-known types it imports). */
export function protoRegistry(): Registry {
  registry ??= createFileRegistry(fromBinary(FileDescriptorSetSchema, fs.readFileSync(DESCRIPTOR_SET_PATH)));
  return registry;
}

export function messageDesc(typeName: string): DescMessage {
  const d = protoRegistry().getMessage(typeName);
  if (!d) throw new Error(`no message ${typeName} in the descriptor set`);
  return d;
}

/** A method by its gRPC path, "/casparian.v1.Sentinel/ListJobs"; undefined when there is none. */
export function methodByPath(path: string): DescMethod | undefined {
  const m = /^\/([^/]+)\/([^/]+)$/.exec(path);
  if (!m) return undefined;
  return protoRegistry().getService(m[1])?.methods.find((x) => x.name === m[2]);
}

/** A message's wire bytes as canonical proto3 JSON. */
export function bytesToJson(desc: DescMessage, bytes: Uint8Array): JsonValue {
  return toJson(desc, fromBinary(desc, bytes), { registry: protoRegistry() });
}

/**
 * Proto3 JSON (canonical or not: field names in either case, enums by name or
 * number, 64-bit integers as strings or numbers) to wire bytes. An unknown
 * field, a wrong type or a bad enum name throws with the parser's message.
 */
export function jsonToBytes(desc: DescMessage, json: JsonValue): Uint8Array {
  return toBinary(desc, fromJson(desc, json, { registry: protoRegistry() }));
}

/** How generated code writes a message (ts-proto's MessageFns has it). */
export interface Encodes<T> {
  encode(message: T): { finish(): Uint8Array };
}

/** A generated (ts-proto) message as canonical proto3 JSON. */
export function toProtoJson<T>(typeName: string, fns: Encodes<T>, message: T): JsonValue {
  return bytesToJson(messageDesc(typeName), fns.encode(message).finish());
}
