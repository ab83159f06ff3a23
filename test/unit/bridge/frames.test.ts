import assert from 'node:assert/strict';
import {
  DEFAULT_MAX_FRAME_PAYLOAD,
  FRAME_HEADER_BYTES,
  FrameError,
  FrameKind,
  FrameReader,
  decodeJsonPayload,
  encodeFrame,
  encodeJsonFrame,
  frameKindName,
} from '../../../services/worker/bridge/frames';

describe('bridge frames', () => {
  it('encodes kind, big-endian u32 length and payload', () => {
    const f = encodeFrame(FrameKind.ARROW, Buffer.from([1, 2, 3]));
    assert.deepEqual([...f], [0x12, 0, 0, 0, 3, 1, 2, 3]);
    const big = encodeFrame(0x01, Buffer.alloc(0x010203));
    assert.deepEqual([...big.subarray(0, 5)], [0x01, 0x00, 0x01, 0x02, 0x03]);
    assert.equal(big.length, FRAME_HEADER_BYTES + 0x010203);
  });

  it('encodes an empty payload as a bare header', () => {
    assert.deepEqual([...encodeFrame(FrameKind.CANCEL)], [0x02, 0, 0, 0, 0]);
  });

  it('rejects kinds that do not fit a byte', () => {
    assert.throws(() => encodeFrame(256, Buffer.alloc(0)), RangeError);
    assert.throws(() => encodeFrame(-1, Buffer.alloc(0)), RangeError);
  });

  it('round-trips JSON frames, including non-ASCII text', () => {
    const reader = new FrameReader();
    const [frame] = reader.push(encodeJsonFrame(FrameKind.LOG, { level: 'info', message: 'héllo ✓' }));
    assert.equal(frame.kind, FrameKind.LOG);
    assert.deepEqual(decodeJsonPayload(frame), { level: 'info', message: 'héllo ✓' });
  });

  it('decodes many frames from one chunk, in order', () => {
    const parts = [];
    for (let i = 0; i < 100; i++) parts.push(encodeFrame(FrameKind.ARROW, Buffer.from([i, i, i].slice(0, i % 4))));
    const frames = new FrameReader().push(Buffer.concat(parts));
    assert.equal(frames.length, 100);
    frames.forEach((f, i) => {
      assert.equal(f.kind, FrameKind.ARROW);
      assert.deepEqual([...f.payload], [i, i, i].slice(0, i % 4));
    });
  });

  it('reassembles frames split at every possible byte, header included', () => {
    const a = encodeJsonFrame(FrameKind.OUTPUT_BEGIN, { name: 'default' });
    const b = encodeFrame(FrameKind.ARROW, Buffer.from('0123456789'));
    const c = encodeFrame(FrameKind.DONE, Buffer.alloc(0));
    const all = Buffer.concat([a, b, c]);
    for (let cut1 = 0; cut1 <= all.length; cut1++) {
      for (let cut2 = cut1; cut2 <= all.length; cut2 += 3) {
        const reader = new FrameReader();
        const frames = [
          ...reader.push(all.subarray(0, cut1)),
          ...reader.push(all.subarray(cut1, cut2)),
          ...reader.push(all.subarray(cut2)),
        ];
        assert.deepEqual(
          frames.map((f) => [f.kind, f.payload.toString()]),
          [
            [FrameKind.OUTPUT_BEGIN, '{"name":"default"}'],
            [FrameKind.ARROW, '0123456789'],
            [FrameKind.DONE, ''],
          ],
          `cuts at ${cut1}/${cut2}`,
        );
        assert.equal(reader.pendingBytes, 0);
      }
    }
  });

  it('reassembles a large frame fed one byte-range at a time', () => {
    const payload = Buffer.alloc(300_000);
    for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
    const wire = encodeFrame(FrameKind.ARROW, payload);
    const reader = new FrameReader();
    const frames = [];
    for (let i = 0; i < wire.length; i += 7001) frames.push(...reader.push(wire.subarray(i, i + 7001)));
    assert.equal(frames.length, 1);
    assert.ok(frames[0].payload.equals(payload));
  });

  it('keeps a partial header pending without returning a frame', () => {
    const reader = new FrameReader();
    assert.deepEqual(reader.push(Buffer.from([0x12, 0, 0])), []);
    assert.equal(reader.pendingBytes, 3);
    const frames = reader.push(Buffer.from([0, 1, 0xaa]));
    assert.equal(frames.length, 1);
    assert.deepEqual([...frames[0].payload], [0xaa]);
  });

  it('rejects a header announcing more than the cap before the payload arrives', () => {
    const reader = new FrameReader(1024);
    const header = Buffer.from([FrameKind.ARROW, 0, 0, 0x04, 0x01]); // 1025 bytes
    assert.throws(() => reader.push(header), (e: unknown) => e instanceof FrameError && /1025 bytes exceeds/.test(e.message));
    assert.throws(() => reader.push(Buffer.alloc(1)), FrameError, 'a failed reader stays failed');
  });

  it('accepts a frame of exactly the cap', () => {
    const reader = new FrameReader(1024);
    const frames = reader.push(encodeFrame(FrameKind.ARROW, Buffer.alloc(1024, 7)));
    assert.equal(frames.length, 1);
    assert.equal(frames[0].payload.length, 1024);
  });

  it('defaults the cap to 4 MiB and rejects a 0xffffffff length', () => {
    assert.equal(DEFAULT_MAX_FRAME_PAYLOAD, 4 * 1024 * 1024);
    const reader = new FrameReader();
    assert.throws(() => reader.push(Buffer.from([0x12, 0xff, 0xff, 0xff, 0xff])), FrameError);
    const ok = new FrameReader().push(encodeFrame(FrameKind.ARROW, Buffer.alloc(DEFAULT_MAX_FRAME_PAYLOAD)));
    assert.equal(ok.length, 1);
  });

  it('rejects JSON payloads that are not UTF-8 JSON objects', () => {
    const bad = [Buffer.from('not json'), Buffer.from('[1,2]'), Buffer.from('null'), Buffer.from('42'), Buffer.from([0xff, 0xfe])];
    for (const payload of bad) {
      assert.throws(() => decodeJsonPayload({ kind: FrameKind.LOG, payload }), FrameError, payload.toString('hex'));
    }
  });

  it('names kinds, including unknown ones', () => {
    assert.equal(frameKindName(0x18), 'DONE');
    assert.equal(frameKindName(0x7f), '0x7f');
  });
});
