/**
 * Arrow IPC stream bytes (Query's `data` chunks, base64 in JSON) → a table of
 * display strings. The chunks of one query concatenate into one IPC stream.
 */
import type { Table } from 'apache-arrow';

export interface Grid {
  columns: { name: string; type: string }[];
  rows: string[][];
}

export function base64Bytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function formatCell(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  // Arrow's own value types (structs, lists, maps, decimals) print themselves.
  const s = String(v);
  if (s !== '[object Object]') return s;
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  } catch {
    return s;
  }
}

export function tableGrid(table: Table): Grid {
  const columns = table.schema.fields.map((f) => ({ name: f.name, type: String(f.type) }));
  const vectors = columns.map((_, i) => table.getChildAt(i));
  const rows: string[][] = [];
  for (let r = 0; r < table.numRows; r++) rows.push(vectors.map((v) => formatCell(v?.get(r))));
  return { columns, rows };
}

export async function decodeIpc(bytes: Uint8Array): Promise<Grid> {
  if (bytes.length === 0) return { columns: [], rows: [] };
  const { tableFromIPC } = await import('apache-arrow');
  return tableGrid(tableFromIPC(bytes));
}
