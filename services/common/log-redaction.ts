/**
 * What never reaches a log line, whichever logger field carries it:
 *
 *  - secrets by field name (`token`, `authorization`, a lease token, …),
 *    censored by pino's `redact` at the top level of a line and one object
 *    down (`{ token }`, `{ auth: { token } }`: every shape our code logs);
 *  - credentials written into URLs (`https://user:secret@host/…`) inside any
 *    string value, at any depth, and inside the message itself.
 */
import { redactUrlCredentials } from './redact';

export const CENSOR = '[redacted]';

const SECRET_FIELDS = ['token', 'authorization', 'password', 'secret', 'leaseToken', 'lease_token', 'cookie', 'apiKey', 'api_key'];

/** pino `redact.paths`: each secret field name at the top level and one level down. */
export const REDACT_PATHS: readonly string[] = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`]);

const MAX_DEPTH = 8;

/**
 * A copy of `value` with URL credentials removed from every string in it.
 * Walks plain objects and arrays (to MAX_DEPTH, cycles cut); an Error
 * becomes `{type, message, stack}` so that its text is redacted too; other
 * objects (Date, Buffer) are left to the serializer.
 */
export function redactStrings(value: unknown, depth = 0, seen: Set<object> = new Set()): unknown {
  if (typeof value === 'string') return redactUrlCredentials(value);
  if (value === null || typeof value !== 'object' || depth >= MAX_DEPTH || seen.has(value)) return value;
  if (Array.isArray(value)) {
    seen.add(value);
    return value.map((v) => redactStrings(v, depth + 1, seen));
  }
  if (value instanceof Error) return redactStrings({ type: value.name, message: value.message, stack: value.stack }, depth, seen);
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  seen.add(value);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactStrings(v, depth + 1, seen);
  return out;
}
