import * as assert from 'node:assert/strict';
import * as arrow from 'apache-arrow';
import { renderCsv, renderTable } from '../../../tools/render-arrow';

function ipcOf(columns: Record<string, arrow.Vector>): Uint8Array {
  return arrow.tableToIPC(new arrow.Table(columns), 'stream');
}

const mixed = () =>
  ipcOf({
    id: arrow.makeVector(Int32Array.from([1, 22, 333])),
    name: arrow.vectorFromArray(['plain', null, 'has, comma'], new arrow.Utf8()),
    score: arrow.makeVector(Float64Array.from([1.5, -0.25, 1e21])),
    ok: arrow.vectorFromArray([true, null, false], new arrow.Bool()),
  });

describe('render-arrow', () => {
  describe('renderTable', () => {
    it('aligns columns under a header, numbers right and text left, nulls shown', () => {
      assert.equal(
        renderTable(mixed(), {}),
        [
          ' id | name       | score | ok',
          '----+------------+-------+------',
          '  1 | plain      |   1.5 | true',
          ' 22 | null       | -0.25 | null',
          '333 | has, comma | 1e+21 | false',
          '',
        ].join('\n'),
      );
    });

    it('hideLineage leaves out the lineage columns and says so; other _cf_ columns stay', () => {
      const ipc = ipcOf({
        id: arrow.makeVector(Int32Array.of(1)),
        _cf_reason: arrow.vectorFromArray(['bad'], new arrow.Utf8()),
        _cf_job_id: arrow.vectorFromArray(['j1'], new arrow.Utf8()),
        _cf_source_hash: arrow.vectorFromArray(['ab'], new arrow.Utf8()),
        _cf_plugin_version: arrow.vectorFromArray(['1.0'], new arrow.Utf8()),
      });
      assert.equal(
        renderTable(ipc, { hideLineage: true }),
        ['id | _cf_reason', '---+-----------', ' 1 | bad', '(lineage columns not shown: _cf_job_id, _cf_source_hash, _cf_plugin_version)', ''].join('\n'),
      );
      assert.match(renderTable(ipc).split('\n')[0], /_cf_job_id \| _cf_source_hash \| _cf_plugin_version$/, 'shown unless asked');
    });

    it('says how many rows were left out', () => {
      const ipc = ipcOf({ num: arrow.makeVector(Int32Array.from({ length: 250 }, (_, i) => i * 10)) });
      const lines = renderTable(ipc, { maxRows: 3 }).trimEnd().split('\n');
      assert.deepEqual(lines, ['num', '---', '  0', ' 10', ' 20', '… 247 more rows']);
      assert.equal(renderTable(ipc, { maxRows: 249 }).trimEnd().split('\n').pop(), '… 1 more row');
      assert.ok(!renderTable(ipc, { maxRows: 250 }).includes('more row'));
      assert.equal(renderTable(ipc).trimEnd().split('\n').pop(), '… 150 more rows'); // default 100
    });

    it('reads across record batches and keeps cells on one line', () => {
      const s = new arrow.Table({ s: arrow.vectorFromArray(['a\nb', 'tab\there'], new arrow.Utf8()) });
      const t = new arrow.Table([...s.batches, ...s.batches]);
      const out = renderTable(arrow.tableToIPC(t, 'stream'), {});
      assert.deepEqual(out.trimEnd().split('\n'), ['s', '---------', 'a\\nb', 'tab\\there', 'a\\nb', 'tab\\there']);
    });

    it('cuts wide cells', () => {
      const ipc = ipcOf({ s: arrow.vectorFromArray(['x'.repeat(100)], new arrow.Utf8()) });
      const row = renderTable(ipc, { maxColumnWidth: 10 }).split('\n')[2];
      assert.equal(row, 'xxxxxxxxx…');
    });
  });

  describe('renderCsv', () => {
    it('quotes per RFC 4180, nulls empty, empty strings quoted', () => {
      const ipc = ipcOf({
        'a,b': arrow.vectorFromArray(['say "hi"', 'line\nbreak', '', null, 'cr\rx'], new arrow.Utf8()),
        n: arrow.vectorFromArray([1, null, 3, 4, 5], new arrow.Int32()),
      });
      assert.equal(
        renderCsv(ipc),
        '"a,b",n\r\n"say ""hi""",1\r\n"line\nbreak",\r\n"",3\r\n,4\r\n"cr\rx",5\r\n',
      );
      assert.equal(renderCsv(ipc, { eol: '\n' }).split('\n')[0], '"a,b",n');
    });

    it('formats the mixed table', () => {
      assert.equal(renderCsv(mixed()), 'id,name,score,ok\r\n1,plain,1.5,true\r\n22,,-0.25,\r\n333,"has, comma",1e+21,false\r\n');
    });

    it('formats bigints, timestamps, dates, times, decimals, binary and dictionaries exactly', () => {
      const ipc = ipcOf({
        big: arrow.vectorFromArray([2n ** 62n + 1n, -(2n ** 63n), null], new arrow.Int64()),
        ubig: arrow.vectorFromArray([2n ** 64n - 1n, 0n, 1n], new arrow.Uint64()),
        us_utc: arrow.makeVector({
          type: new arrow.TimestampMicrosecond('UTC'),
          data: BigInt64Array.from([1_700_000_000_123_456n, -1n, 0n]),
        }),
        ns_naive: arrow.makeVector({
          type: new arrow.TimestampNanosecond(),
          data: BigInt64Array.from([1_700_000_000_123_456_789n, 1n, 0n]),
        }),
        ms: arrow.vectorFromArray(
          [new Date('2024-02-29T12:34:56.789Z'), null, new Date(0)],
          new arrow.TimestampMillisecond(),
        ),
        s: arrow.makeVector({ type: new arrow.TimestampSecond('Europe/Paris'), data: BigInt64Array.from([0n, 86_400n, -86_401n]) }),
        day: arrow.vectorFromArray([new Date('2024-01-02'), new Date('1969-12-31'), null], new arrow.DateDay()),
        t: arrow.makeVector({ type: new arrow.TimeMicrosecond(), data: BigInt64Array.from([3_723_000_001n, 0n, 86_399_999_999n]) }),
        dec: arrow.makeVector({
          type: new arrow.Decimal(2, 10, 128),
          data: new Uint32Array([12345, 0, 0, 0, 5, 0, 0, 0, 0xffffff85, 0xffffffff, 0xffffffff, 0xffffffff]),
        }),
        bin: arrow.vectorFromArray([new Uint8Array([0, 1, 0xff]), null, new Uint8Array([])], new arrow.Binary()),
        kind: arrow.vectorFromArray(['x', 'y', 'x'], new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32())),
        list: arrow.vectorFromArray([[1, 2], [], null], new arrow.List(new arrow.Field('item', new arrow.Int32(), true))),
      });
      const rows = renderCsv(ipc, { eol: '\n' }).trimEnd().split('\n').map((l) => l.split(','));
      const cols = rows[0];
      const col = (name: string) => rows.slice(1).map((r) => r[cols.indexOf(name)]);
      assert.deepEqual(col('big'), ['4611686018427387905', '-9223372036854775808', '']);
      assert.deepEqual(col('ubig'), ['18446744073709551615', '0', '1']);
      assert.deepEqual(col('us_utc'), ['2023-11-14T22:13:20.123456Z', '1969-12-31T23:59:59.999999Z', '1970-01-01T00:00:00.000000Z']);
      assert.deepEqual(col('ns_naive'), ['2023-11-14T22:13:20.123456789', '1970-01-01T00:00:00.000000001', '1970-01-01T00:00:00.000000000']);
      assert.deepEqual(col('ms'), ['2024-02-29T12:34:56.789', '', '1970-01-01T00:00:00.000']);
      assert.deepEqual(col('s'), ['1970-01-01T00:00:00Z', '1970-01-02T00:00:00Z', '1969-12-30T23:59:59Z']);
      assert.deepEqual(col('day'), ['2024-01-02', '1969-12-31', '']);
      assert.deepEqual(col('t'), ['01:02:03.000001', '00:00:00.000000', '23:59:59.999999']);
      assert.deepEqual(col('dec'), ['123.45', '0.05', '-1.23']);
      assert.deepEqual(col('bin'), ['0x0001ff', '', '0x']);
      assert.deepEqual(col('kind'), ['x', 'y', 'x']);
      // nested values are JSON, quoted in CSV because they contain commas
      assert.ok(renderCsv(ipc).includes('"[1,2]"'));
    });
  });
});
