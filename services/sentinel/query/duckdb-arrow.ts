/**
 * DuckDB result chunks → Arrow record batches, for Query's Arrow IPC replies.
 *
 * Booleans, integers up to 64 bits, floats, strings and blobs keep their type;
 * every other DuckDB type (dates, timestamps, decimals, intervals, UUIDs,
 * 128-bit integers, lists, structs, maps…) becomes Utf8 holding the value's
 * DuckDB text form, which is exact, and which every client can read.
 */
import * as arrow from 'apache-arrow';
import { DuckDBBlobValue, DuckDBTypeId, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';

const DIRECT: Partial<Record<DuckDBTypeId, () => arrow.DataType>> = {
  [DuckDBTypeId.BOOLEAN]: () => new arrow.Bool(),
  [DuckDBTypeId.TINYINT]: () => new arrow.Int8(),
  [DuckDBTypeId.SMALLINT]: () => new arrow.Int16(),
  [DuckDBTypeId.INTEGER]: () => new arrow.Int32(),
  [DuckDBTypeId.BIGINT]: () => new arrow.Int64(),
  [DuckDBTypeId.UTINYINT]: () => new arrow.Uint8(),
  [DuckDBTypeId.USMALLINT]: () => new arrow.Uint16(),
  [DuckDBTypeId.UINTEGER]: () => new arrow.Uint32(),
  [DuckDBTypeId.UBIGINT]: () => new arrow.Uint64(),
  [DuckDBTypeId.FLOAT]: () => new arrow.Float32(),
  [DuckDBTypeId.DOUBLE]: () => new arrow.Float64(),
  [DuckDBTypeId.VARCHAR]: () => new arrow.Utf8(),
  [DuckDBTypeId.BLOB]: () => new arrow.Binary(),
};

/** The Arrow type a DuckDB column is sent as. */
export function arrowTypeOf(t: DuckDBType): arrow.DataType {
  return DIRECT[t.typeId]?.() ?? new arrow.Utf8();
}

/** The Arrow schema of a result with these column names and types. */
export function arrowSchemaOf(names: readonly string[], types: readonly DuckDBType[]): arrow.Schema {
  return new arrow.Schema(names.map((n, i) => new arrow.Field(n, arrowTypeOf(types[i]), true)));
}

function cell(v: DuckDBValue, type: arrow.DataType): unknown {
  if (v === null || v === undefined) return null;
  if (arrow.DataType.isBinary(type)) return v instanceof DuckDBBlobValue ? v.bytes : null;
  if (arrow.DataType.isUtf8(type)) return typeof v === 'string' ? v : String(v);
  return v;
}

/** One record batch from a chunk's columns (`columns[c][row]`), `rows` long. */
export function recordBatchOf(schema: arrow.Schema, columns: readonly DuckDBValue[][], rows: number): arrow.RecordBatch {
  const children = schema.fields.map((f, c) => {
    const values = new Array<unknown>(rows);
    const col = columns[c];
    for (let i = 0; i < rows; i++) values[i] = cell(col[i], f.type);
    const data = arrow.vectorFromArray(values, f.type).data;
    return data.length === 1 ? data[0] : arrow.makeVector(data).data[0];
  });
  const struct = arrow.makeData({ type: new arrow.Struct(schema.fields), length: rows, nullCount: 0, children });
  return new arrow.RecordBatch(schema, struct);
}
