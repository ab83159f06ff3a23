/** Shared helpers for the output-store tests: temp data dirs, Arrow tables, chunked appends. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as arrow from 'apache-arrow';
import { JobFailure } from '../../../services/common/job-error';
import type { StagingArea } from '../../../services/sentinel/sinks/staging-area';

export function tempDataDir(): string {
  const base = process.env.CASPARIAN_TEST_HOME ?? os.tmpdir();
  return fs.mkdtempSync(path.join(base, 'output-store-'));
}

/** Every file and dir under `dir`, relative, sorted. */
export function tree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).map((p) => p.split(path.sep).join('/')).sort();
}

export async function appendChunked(area: StagingArea, name: string, bytes: Uint8Array, size: number): Promise<void> {
  for (let at = 0; at < bytes.byteLength; at += size) {
    await area.append(name, bytes.subarray(at, Math.min(at + size, bytes.byteLength)));
  }
}

export async function collect(chunks: AsyncIterable<Uint8Array>, maxChunk: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) {
    assert.ok(c.byteLength > 0 && c.byteLength <= maxChunk, `chunk of ${c.byteLength} bytes (max ${maxChunk})`);
    parts.push(c.slice());
  }
  return Buffer.concat(parts);
}

/** Rows of a table as plain objects (bigints stay bigints). */
export function rowsOf(table: arrow.Table): Record<string, unknown>[] {
  return table.toArray().map((r) => ({ ...(r as { toJSON(): Record<string, unknown> }).toJSON() }));
}

export function isInvalidOutput(fragment?: string): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof JobFailure, `expected JobFailure, got ${String(err)}`);
    assert.equal(err.jobError.errorClass, 'protocol');
    assert.equal(err.jobError.code, 'INVALID_OUTPUT');
    if (fragment) assert.ok(err.message.includes(fragment), `"${err.message}" should mention ${fragment}`);
    return true;
  };
}

/** One dictionary type for every sample table, so their batches share a schema. */
const KIND = new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32(), 0);

/** A mixed-type table of `n` rows with nulls, built as one batch. */
export function sampleTable(n: number, offset = 0): arrow.Table {
  const ids = Int32Array.from({ length: n }, (_, i) => i + offset);
  return new arrow.Table({
    id: arrow.makeVector(ids),
    big: arrow.vectorFromArray(
      Array.from({ length: n }, (_, i) => (i % 5 === 4 ? null : BigInt(i + offset) * 1_000_000_007n)),
      new arrow.Int64(),
    ),
    score: arrow.makeVector(Float64Array.from({ length: n }, (_, i) => (i + offset) / 7)),
    name: arrow.vectorFromArray(
      Array.from({ length: n }, (_, i) => (i % 3 === 2 ? null : `row "${i + offset}", ok`)),
      new arrow.Utf8(),
    ),
    flag: arrow.vectorFromArray(
      Array.from({ length: n }, (_, i) => (i % 4 === 3 ? null : i % 2 === 0)),
      new arrow.Bool(),
    ),
    kind: arrow.vectorFromArray(
      Array.from({ length: n }, (_, i) => ['alpha', 'beta', 'gamma'][(i + offset) % 3]),
      KIND,
    ),
    at: arrow.makeVector({
      type: new arrow.TimestampMicrosecond('UTC'),
      data: BigInt64Array.from({ length: n }, (_, i) => 1_700_000_000_000_000n + BigInt(i + offset) * 1_000_001n),
    }),
  });
}
