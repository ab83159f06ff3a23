import assert from 'node:assert/strict';
import { FrameError } from '../../../services/worker/bridge/frames';
import { OutputTracker } from '../../../services/worker/bridge/output-tracker';

describe('bridge output tracker', () => {
  it('routes ARROW frames to the current output, including continuations', () => {
    const t = new OutputTracker();
    assert.equal(t.begin('a'), true);
    assert.equal(t.arrowTarget(), 'a');
    assert.equal(t.begin('b'), true);
    assert.equal(t.arrowTarget(), 'b');
    assert.equal(t.begin('a'), false, 'a continuation is not a new output');
    assert.equal(t.arrowTarget(), 'a');
    t.end({ name: 'a', rows: 2, batches: 2 });
    assert.throws(() => t.arrowTarget(), FrameError, 'ending the current output clears it');
    t.end({ name: 'b', rows: 1, batches: 1 });
    t.checkDone({ rows: 3, outputs: [{ name: 'b', rows: 1, batches: 1 }, { name: 'a', rows: 2, batches: 2 }] });
    assert.deepEqual(t.summaries(), [
      { name: 'a', rows: 2, batches: 2 },
      { name: 'b', rows: 1, batches: 1 },
    ]);
  });

  it('rejects ARROW before any OUTPUT_BEGIN', () => {
    assert.throws(() => new OutputTracker().arrowTarget(), /outside of an output/);
  });

  it('rejects ending twice, ending unknown outputs and beginning after the end', () => {
    const t = new OutputTracker();
    assert.throws(() => t.end({ name: 'x', rows: 0, batches: 0 }), /never began/);
    t.begin('x');
    t.end({ name: 'x', rows: 0, batches: 0 });
    assert.throws(() => t.end({ name: 'x', rows: 0, batches: 0 }), /sent twice/);
    assert.throws(() => t.begin('x'), /after its OUTPUT_END/);
  });

  it('checks DONE against the outputs', () => {
    const t = new OutputTracker();
    t.begin('x');
    assert.throws(() => t.checkDone({ rows: 0, outputs: [] }), /still open: x/);
    t.end({ name: 'x', rows: 0, batches: 0 });
    assert.throws(() => t.checkDone({ rows: 0, outputs: [] }), /other outputs/);
    assert.throws(() => t.checkDone({ rows: 0, outputs: [{ name: 'y', rows: 0, batches: 0 }] }), /other outputs/);
    t.checkDone({ rows: 0, outputs: [{ name: 'x', rows: 0, batches: 0 }] });
  });
});
