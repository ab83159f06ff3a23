/**
 * Render Arrow IPC bytes (stream or file format) for a terminal or as CSV.
 *
 * Values are formatted from their Arrow type: timestamps as ISO 8601 at the
 * column's precision (with `Z` only when the type carries a time zone), dates as
 * YYYY-MM-DD, times as HH:MM:SS[.fraction], decimals with their scale, 64-bit
 * integers exactly, binary as hex, nested values as JSON.
 */
import * as arrow from 'apache-arrow';

export interface RenderTableOptions {
  /** Rows shown before "… N more rows" (default 100). */
  maxRows?: number;
  /** Widest a column may get; longer cells are cut with "…" (default 60). */
  maxColumnWidth?: number;
  /** Leave out the lineage columns (_cf_job_id, _cf_source_hash, _cf_plugin_version), saying so under the table. */
  hideLineage?: boolean;
}

const LINEAGE = new Set(['_cf_job_id', '_cf_source_hash', '_cf_plugin_version']);

export interface RenderCsvOptions {
  /** Line terminator; RFC 4180 says CRLF (the default). */
  eol?: '\r\n' | '\n';
}

const UNIT_DIGITS: Record<number, number> = {
  [arrow.TimeUnit.SECOND]: 0,
  [arrow.TimeUnit.MILLISECOND]: 3,
  [arrow.TimeUnit.MICROSECOND]: 6,
  [arrow.TimeUnit.NANOSECOND]: 9,
};

function pad(n: number | bigint, width: number): string {
  return String(n).padStart(width, '0');
}

/** ISO 8601 for `value` units of 10^-digits seconds since the epoch. */
function isoInstant(value: bigint, digits: number, zoned: boolean): string {
  const perSecond = 10n ** BigInt(digits);
  let seconds = value / perSecond;
  let frac = value % perSecond;
  if (frac < 0n) {
    frac += perSecond;
    seconds -= 1n;
  }
  const date = new Date(Number(seconds) * 1000);
  if (Number.isNaN(date.getTime())) return String(value);
  const base = date.toISOString().replace(/\.\d{3}Z$/, ''); // extended years keep their sign
  const fraction = digits > 0 ? `.${pad(frac, digits)}` : '';
  return `${base}${fraction}${zoned ? 'Z' : ''}`;
}

function isoDate(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString().replace(/T.*$/, '');
}

function timeOfDay(value: bigint, digits: number): string {
  const perSecond = 10n ** BigInt(digits);
  const totalSeconds = value / perSecond;
  const frac = value % perSecond;
  const h = totalSeconds / 3600n;
  const m = (totalSeconds % 3600n) / 60n;
  const s = totalSeconds % 60n;
  return `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}${digits > 0 ? `.${pad(frac, digits)}` : ''}`;
}

function decimalString(value: unknown, scale: number): string {
  const digits = arrow.util.bigNumToString(value as never);
  if (scale <= 0) return digits + '0'.repeat(-scale);
  const negative = digits.startsWith('-');
  const abs = (negative ? digits.slice(1) : digits).padStart(scale + 1, '0');
  return `${negative ? '-' : ''}${abs.slice(0, abs.length - scale)}.${abs.slice(abs.length - scale)}`;
}

function toHex(bytes: Uint8Array): string {
  return '0x' + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function jsonOf(value: unknown): string {
  const plain = value && typeof value === 'object' && 'toJSON' in value ? (value as { toJSON(): unknown }).toJSON() : value;
  return JSON.stringify(plain, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Uint8Array) return toHex(v);
    if (v && typeof v === 'object' && 'toJSON' in v && typeof (v as { toJSON: unknown }).toJSON === 'function') {
      return (v as { toJSON(): unknown }).toJSON();
    }
    return v;
  });
}

/** The raw 64-bit storage of row `i` of a single-chunk vector, when it has one. */
function raw64(vector: arrow.Vector, i: number): bigint | undefined {
  if (vector.data.length !== 1) return undefined;
  const data = vector.data[0];
  const values = data.values as unknown;
  if (values instanceof BigInt64Array || values instanceof BigUint64Array) return values[data.offset + i];
  return undefined;
}

/**
 * Format one cell; `null` for a null value. `vector` is the column of a single
 * record batch, so raw storage can be read at full precision.
 */
export function formatCell(vector: arrow.Vector, type: arrow.DataType, i: number): string | null {
  if (!vector.isValid(i)) return null;
  const value: unknown = vector.get(i);
  if (value === null || value === undefined) return null;
  return formatValue(value, type, () => raw64(vector, i));
}

function formatValue(value: unknown, type: arrow.DataType, raw: () => bigint | undefined): string {
  if (arrow.DataType.isDictionary(type)) return formatValue(value, type.dictionary, () => undefined);
  if (arrow.DataType.isTimestamp(type)) {
    const digits = UNIT_DIGITS[type.unit] ?? 3;
    const exact = raw();
    const zoned = Boolean(type.timezone);
    if (exact !== undefined) return isoInstant(exact, digits, zoned);
    return isoInstant(BigInt(Math.round(Number(value))), 3, zoned); // milliseconds from get()
  }
  if (arrow.DataType.isDate(type)) return isoDate(Number(value));
  if (arrow.DataType.isTime(type)) return timeOfDay(BigInt(value as number | bigint), UNIT_DIGITS[type.unit] ?? 0);
  if (arrow.DataType.isDecimal(type)) return decimalString(value, type.scale);
  if (arrow.DataType.isBinary(type) || arrow.DataType.isFixedSizeBinary(type) || value instanceof Uint8Array) {
    return value instanceof Uint8Array ? toHex(value) : String(value);
  }
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return Number.isFinite(value) ? String(value) : String(value); // NaN, Infinity, -Infinity
    case 'bigint':
    case 'boolean':
      return String(value);
    default:
      return jsonOf(value);
  }
}

function isNumeric(type: arrow.DataType): boolean {
  return arrow.DataType.isInt(type) || arrow.DataType.isFloat(type) || arrow.DataType.isDecimal(type);
}

/** Visit rows in order, batch by batch, with each column's vector for that batch. */
function* cells(table: arrow.Table, limit: number): Generator<(string | null)[]> {
  const fields = table.schema.fields;
  let emitted = 0;
  for (const batch of table.batches) {
    const columns = fields.map((_, c) => batch.getChildAt(c)!);
    for (let i = 0; i < batch.numRows && emitted < limit; i++, emitted++) {
      yield columns.map((col, c) => formatCell(col, fields[c].type, i));
    }
    if (emitted >= limit) return;
  }
}

function displayText(s: string, max: number): string {
  const oneLine = s.replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/\t/g, '\\t');
  const chars = [...oneLine];
  return chars.length > max ? chars.slice(0, max - 1).join('') + '…' : oneLine;
}

function width(s: string): number {
  return [...s].length;
}

/** An aligned text table with a header, rule, rows, and a note when rows were left out. */
export function renderTable(ipcBytes: Uint8Array, opts: RenderTableOptions = {}): string {
  const full = arrow.tableFromIPC(ipcBytes);
  const hidden = opts.hideLineage ? full.schema.fields.filter((f) => LINEAGE.has(f.name)).map((f) => f.name) : [];
  const table = hidden.length ? full.select(full.schema.fields.map((f) => f.name).filter((n) => !LINEAGE.has(n))) : full;
  const maxRows = Math.max(0, opts.maxRows ?? 100);
  const maxWidth = Math.max(4, opts.maxColumnWidth ?? 60);
  const fields = table.schema.fields;
  if (fields.length === 0) return `(no columns, ${table.numRows} row${table.numRows === 1 ? '' : 's'})\n`;

  const header = fields.map((f) => displayText(f.name, maxWidth));
  const rows = [...cells(table, maxRows)].map((r) => r.map((v) => (v === null ? 'null' : displayText(v, maxWidth))));
  const widths = header.map((h, c) => Math.max(width(h), ...rows.map((r) => width(r[c]))));
  const rightAlign = fields.map((f) => isNumeric(f.type));
  const line = (cols: string[]): string =>
    cols
      .map((v, c) => {
        const fill = ' '.repeat(widths[c] - width(v));
        return rightAlign[c] ? fill + v : v + fill;
      })
      .join(' | ')
      .trimEnd();

  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('-+-'), ...rows.map(line)];
  const more = table.numRows - rows.length;
  if (more > 0) out.push(`… ${more} more row${more === 1 ? '' : 's'}`);
  if (hidden.length) out.push(`(lineage columns not shown: ${hidden.join(', ')})`);
  return out.join('\n') + '\n';
}

function csvField(v: string | null): string {
  if (v === null) return '';
  if (v === '' || /[",\r\n]/.test(v)) return `"${v.replace(/"/g, '""')}"`;
  return v;
}

/**
 * CSV per RFC 4180: a header row, fields with commas, quotes or line breaks
 * quoted and quotes doubled. A null is an empty field; an empty string is `""`
 * so the two stay distinguishable.
 */
export function renderCsv(ipcBytes: Uint8Array, opts: RenderCsvOptions = {}): string {
  const eol = opts.eol ?? '\r\n';
  const table = arrow.tableFromIPC(ipcBytes);
  const lines = [table.schema.fields.map((f) => csvField(f.name)).join(',')];
  for (const row of cells(table, Infinity)) lines.push(row.map(csvField).join(','));
  return lines.join(eol) + eol;
}

/** A JSON value for one cell: numbers that JSON holds exactly stay numbers; 64-bit integers are strings (as in proto3 JSON); the rest is formatCell's text. */
function jsonCell(vector: arrow.Vector, type: arrow.DataType, i: number): unknown {
  const text = formatCell(vector, type, i);
  if (text === null) return null;
  if (arrow.DataType.isBool(type)) return text === 'true';
  if ((arrow.DataType.isInt(type) && type.bitWidth < 64) || arrow.DataType.isFloat(type)) {
    const n = Number(text);
    return Number.isFinite(n) ? n : text; // NaN and ±Infinity have no JSON number
  }
  return text;
}

/**
 * JSON Lines: one object per row, keyed by column name, in column order. Nulls
 * are null, booleans and numbers that JSON holds exactly are themselves,
 * 64-bit integers are strings (exact), and every other value is its text as in
 * renderTable and renderCsv.
 */
export function renderJsonLines(ipcBytes: Uint8Array): string {
  const table = arrow.tableFromIPC(ipcBytes);
  const fields = table.schema.fields;
  const lines: string[] = [];
  for (const batch of table.batches) {
    const columns = fields.map((_, c) => batch.getChildAt(c)!);
    for (let i = 0; i < batch.numRows; i++) {
      const row: Record<string, unknown> = {};
      fields.forEach((f, c) => (row[f.name] = jsonCell(columns[c], f.type, i)));
      lines.push(JSON.stringify(row));
    }
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}
