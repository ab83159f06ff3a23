/**
 * What `--json` prints for an API response: the message in canonical proto3
 * JSON, as grpcurl prints it (enum names, 64-bit integers as strings,
 * lowerCamelCase names, fields at their default left out).
 */
import { toProtoJson, type Encodes } from '../../services/common/proto-json';

/** The message as indented canonical proto3 JSON text. */
export function protoJsonText<T>(typeName: string, fns: Encodes<T>, message: T): string {
  return JSON.stringify(toProtoJson(`casparian.v1.${typeName}`, fns, message), null, 2);
}

/** Prints the message to stdout as canonical proto3 JSON. */
export function printProto<T>(typeName: string, fns: Encodes<T>, message: T): void {
  process.stdout.write(`${protoJsonText(typeName, fns, message)}\n`);
}
