/**
 * The Sentinel's `--db` value: which store, and where. Parsed here (not in
 * the store module) so that configuration can check it without loading a
 * database driver.
 */

export type StoreTarget = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

/** Parse a `--db` value; throws a message naming what is accepted. */
export function parseStoreTarget(value: string): StoreTarget {
  const v = value.trim();
  if (/^postgres(ql)?:\/\//i.test(v)) {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      throw new Error(`--db: "${redactUrl(v)}" is not a valid PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE)`);
    }
    if (!u.hostname && !u.searchParams.get('host')) throw new Error(`--db: "${redactUrl(v)}" names no host`);
    return { kind: 'postgres', url: v };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) throw new Error(`--db: unsupported store "${v.split(':')[0]}": give sqlite:PATH or postgres://…`);
  const file = v.startsWith('sqlite:') ? v.slice('sqlite:'.length) : v;
  if (!file) throw new Error('--db: sqlite: needs a file path (sqlite:/var/lib/casparian/sentinel.db)');
  return { kind: 'sqlite', file };
}

/** The URL with its password (and any user info) replaced, for logs and errors. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i, (_m, scheme: string, info: string) => `${scheme}${info.includes(':') ? `${info.split(':')[0]}:***` : info}@`);
}

/**
 * The database could not be reached (connection refused or cut, server
 * shutting down): worth retrying once it is back, and the Sentinel reports
 * NOT_SERVING meanwhile. SQLite never raises these.
 */
export function isStoreUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH'].includes(code)) return true;
  // SQLSTATE class 08 (connection exception), 57P01..57P03 (admin shutdown, crash shutdown, cannot connect now).
  if (/^08/.test(code) || ['57P01', '57P02', '57P03'].includes(code)) return true;
  const msg = typeof e?.message === 'string' ? e.message : '';
  return /Connection terminated|connection timeout|Client has encountered a connection error|terminating connection/i.test(msg);
}

/**
 * PostgreSQL refused a value of the request (SQLSTATE class 22, data
 * exception: a NUL byte in a text, a number out of range). SQLite stores such
 * values; PostgreSQL does not, and the caller gets INVALID_ARGUMENT.
 */
export function isRefusedValue(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code);
}
