/**
 * Field checks shared by request handlers and domain modules (plugin
 * manifests). Failures are INVALID_ARGUMENT (or RESOURCE_EXHAUSTED for sizes)
 * naming the field.
 */
import * as path from 'node:path';
import { invalidArgument, resourceExhausted } from './rpc-error';

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const VERSION_RE = /^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$/;

export const MAX_SOURCE_BYTES = 4 * 1024 * 1024;
export const MAX_LOCKFILE_BYTES = 1024 * 1024;

export function requireName(field: string, v: string): string {
  if (!v) throw invalidArgument(`${field} is required`);
  if (!NAME_RE.test(v)) throw invalidArgument(`${field} "${v.slice(0, 140)}" is invalid: use letters, digits, '_', '-', '.' (at most 128)`);
  return v;
}

export function optionalVersion(field: string, v: string): string {
  if (v && !VERSION_RE.test(v)) throw invalidArgument(`${field} "${v.slice(0, 80)}" is invalid: use letters, digits, '_', '-', '.', '+' (at most 64)`);
  return v;
}

export function requireText(field: string, v: string, maxBytes: number): string {
  if (!v || !v.trim()) throw invalidArgument(`${field} is required`);
  const n = Buffer.byteLength(v, 'utf8');
  if (n > maxBytes) throw resourceExhausted(`${field} is ${n} bytes; the limit is ${maxBytes}`);
  return v;
}

export function requireAbsolutePath(field: string, v: string): string {
  if (!v) throw invalidArgument(`${field} is required`);
  if (v.includes('\0')) throw invalidArgument(`${field} contains a NUL byte`);
  if (!path.isAbsolute(v)) throw invalidArgument(`${field} must be an absolute path, got "${v.slice(0, 200)}"`);
  if (v.length > 4096) throw invalidArgument(`${field} is longer than 4096 characters`);
  return path.normalize(v);
}

export function boundedInt(field: string, v: number, max: number): number {
  if (!Number.isInteger(v) || v < 0 || v > max) throw invalidArgument(`${field} must be between 0 and ${max}, got ${v}`);
  return v;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** A signed 32-bit integer (proto int32); JSON callers can send anything, so it is checked. */
export function int32(field: string, v: number): number {
  if (!Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX) throw invalidArgument(`${field} must be an integer between ${INT32_MIN} and ${INT32_MAX}, got ${v}`);
  return v;
}

/**
 * An optional point in time (a proto Timestamp) as milliseconds since the
 * epoch, or undefined when unset. A time in the past is allowed; one more than
 * `maxAheadMs` after `now` is refused, as is a timestamp that is not a date.
 */
export function optionalTime(field: string, v: Date | undefined, now: number, maxAheadMs: number): number | undefined {
  if (v === undefined) return undefined;
  const t = v.getTime();
  if (!Number.isFinite(t)) throw invalidArgument(`${field} is not a valid timestamp`);
  if (t - now > maxAheadMs) {
    throw invalidArgument(`${field} ${v.toISOString()} is more than ${Math.round(maxAheadMs / 86_400_000)} days ahead`);
  }
  return t;
}
