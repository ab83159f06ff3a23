import * as assert from 'node:assert/strict';
import { decodeConcludeRequest, decodeFetchOutputResponse, encodeConcludeRequest, encodeFetchOutputResponse } from '../../../services/common/bytes-codec';
import { ConcludeRequest } from '../../../services/gen/casparian/v1/dispatch';
import { FetchOutputResponse } from '../../../services/gen/casparian/v1/sentinel';

const generatedConclude = (v: ConcludeRequest): Buffer => Buffer.from(ConcludeRequest.encode(v).finish());
const generatedFetch = (v: FetchOutputResponse): Buffer => Buffer.from(FetchOutputResponse.encode(v).finish());

/** Sizes around every varint length boundary that a 1 MiB chunk can reach. */
const SIZES = [0, 1, 126, 127, 128, 16_383, 16_384, 1024 * 1024, 2_097_151, 2_097_152];

function bytes(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

describe('bytes-codec: serializers of the bulk-byte messages', () => {
  it('encodes output chunks exactly as the generated code does, at every varint boundary', () => {
    for (const name of ['', 'default', 'ünïcode-名前', 'x'.repeat(128)]) {
      for (const n of SIZES) {
        const msg: ConcludeRequest = { msg: { $case: 'chunk', chunk: { outputName: name, data: bytes(n) } } };
        const mine = encodeConcludeRequest(msg);
        assert.ok(mine.equals(generatedConclude(msg)), `chunk "${name}" of ${n} bytes`);
        assert.deepEqual(ConcludeRequest.decode(mine), msg);
      }
    }
  });

  it('hands every other Conclude message to the generated code', () => {
    const msgs: ConcludeRequest[] = [
      { msg: { $case: 'header', header: { jobId: 'j', attempt: 2, leaseToken: 't' } } },
      { msg: { $case: 'progress', progress: { rows: 5, fraction: 0.5, message: 'half' } } },
      { msg: undefined },
    ];
    for (const m of msgs) assert.ok(encodeConcludeRequest(m).equals(generatedConclude(m)), JSON.stringify(m));
  });

  it('encodes FetchOutput responses exactly as the generated code does, with and without the output info', () => {
    const output = { name: 'default', rows: 12, sizeBytes: 345, columns: [{ name: 'a', type: 'Int64', nullable: true }] };
    for (const n of SIZES) {
      for (const v of [{ output, data: bytes(n) }, { output: undefined, data: bytes(n) }] as FetchOutputResponse[]) {
        const mine = encodeFetchOutputResponse(v);
        assert.ok(mine.equals(generatedFetch(v)), `${n} bytes, info ${Boolean(v.output)}`);
        assert.deepEqual(FetchOutputResponse.decode(mine), v);
      }
    }
  });

  it('decodes output chunks as views of the message buffer, equal to the generated decoder', () => {
    for (const name of ['', 'default', 'ünïcode-名前']) {
      for (const n of SIZES) {
        const msg: ConcludeRequest = { msg: { $case: 'chunk', chunk: { outputName: name, data: bytes(n) } } };
        const wire = generatedConclude(msg);
        const mine = decodeConcludeRequest(wire);
        assert.deepEqual(mine, ConcludeRequest.decode(wire), `chunk "${name}" of ${n} bytes`);
        const data = (mine.msg as { chunk: { data: Buffer } }).chunk.data;
        if (n > 0) assert.equal(data.buffer, wire.buffer, 'a view, not a copy');
      }
    }
  });

  it('leaves other and unusual Conclude messages to the generated decoder', () => {
    const chunk: ConcludeRequest = { msg: { $case: 'chunk', chunk: { outputName: 'a', data: bytes(10) } } };
    const header: ConcludeRequest = { msg: { $case: 'header', header: { jobId: 'j', attempt: 2, leaseToken: 't' } } };
    const wires = [
      generatedConclude(header),
      Buffer.concat([generatedConclude(chunk), generatedConclude(header)]), // a later field wins (proto3 merge)
      Buffer.concat([generatedConclude(chunk), generatedConclude(chunk)]),
      generatedConclude(chunk).subarray(0, 8), // truncated
      Buffer.alloc(0),
    ];
    for (const w of wires) {
      let expected: unknown;
      let got: unknown;
      try {
        expected = ConcludeRequest.decode(w);
      } catch (e) {
        expected = (e as Error).constructor;
      }
      try {
        got = decodeConcludeRequest(w);
      } catch (e) {
        got = (e as Error).constructor;
      }
      assert.deepEqual(got, expected, w.toString('hex'));
    }
  });

  it('decodes FetchOutput responses as views, equal to the generated decoder, and leaves odd shapes to it', () => {
    const output = { name: 'default', rows: 12, sizeBytes: 345, columns: [{ name: 'a', type: 'Int64', nullable: true }] };
    for (const n of SIZES) {
      for (const v of [{ output, data: bytes(n) }, { output: undefined, data: bytes(n) }] as FetchOutputResponse[]) {
        const wire = generatedFetch(v);
        const mine = decodeFetchOutputResponse(wire);
        assert.deepEqual(mine, FetchOutputResponse.decode(wire), `${n} bytes, info ${Boolean(v.output)}`);
        if (n > 0) assert.equal(mine.data.buffer, wire.buffer, 'a view, not a copy');
      }
    }
    const a = generatedFetch({ output, data: bytes(3) });
    for (const w of [Buffer.concat([a, a]), a.subarray(0, a.byteLength - 1)]) {
      let expected: unknown;
      try {
        expected = FetchOutputResponse.decode(w);
      } catch (e) {
        expected = (e as Error).constructor;
      }
      let got: unknown;
      try {
        got = decodeFetchOutputResponse(w);
      } catch (e) {
        got = (e as Error).constructor;
      }
      assert.deepEqual(got, expected, w.toString('hex'));
    }
  });
});
