import assert from 'node:assert/strict';
import { TailBuffer } from '../../../services/worker/bridge/tail-buffer';

describe('bridge tail buffer', () => {
  it('keeps everything under the limit', () => {
    const t = new TailBuffer(100);
    t.push(Buffer.from('abc'));
    t.push(Buffer.from('def'));
    assert.equal(t.text(), 'abcdef');
  });

  it('keeps only the last bytes and says how many were dropped', () => {
    const t = new TailBuffer(10);
    for (let i = 0; i < 1000; i++) t.push(Buffer.from(`${i % 10}`));
    assert.equal(t.total, 1000);
    assert.equal(t.text(), '[... 990 earlier bytes dropped]\n0123456789');
  });

  it('handles a single chunk larger than the limit', () => {
    const t = new TailBuffer(4);
    t.push(Buffer.from('hello world'));
    assert.match(t.text(), /orld$/);
    t.push(Buffer.from('!'));
    assert.match(t.text(), /rld!$/);
  });
});
