import { strict as assert } from 'node:assert';
import { ScanProgressView, scanSummary } from '../../../tools/cli/scan-progress';

const summary = (o: object) => ({ batchId: '', pluginVersion: '1.0.0', matched: 0, enqueued: 0, skipped: 0, errors: 0, done: true, errorFiles: [], interrupted: false, ...o });

describe('unit: CLI scan progress', () => {
  it('redraws a live counter in place on a TTY and clears it at the end', () => {
    let now = 0;
    let out = '';
    const v = new ScanProgressView('/data', { tty: true, write: (s) => (out += s), now: () => now });
    now = 2_000;
    v.update({ matched: 1000, enqueued: 900, skipped: 100, errors: 0 });
    assert.equal(out, '\r\x1b[Kscanning /data: 1000 files matched (500/s), 900 enqueued, 100 unchanged');
    v.update({ matched: 1200, enqueued: 900, skipped: 299, errors: 1 });
    assert.ok(out.endsWith('\r\x1b[Kscanning /data: 1200 files matched (600/s), 900 enqueued, 299 unchanged, 1 errors'));
    v.finish();
    assert.ok(out.endsWith('\r\x1b[K'));
  });

  it('writes plain lines at most every everyMs off a TTY', () => {
    let now = 0;
    const lines: string[] = [];
    const v = new ScanProgressView('/d', { tty: false, write: (s) => lines.push(s), now: () => now, everyMs: 1_000 });
    now = 1_000;
    v.update({ matched: 1, enqueued: 1, skipped: 0, errors: 0 });
    now = 1_500;
    v.update({ matched: 2, enqueued: 2, skipped: 0, errors: 0 });
    now = 2_000;
    v.update({ matched: 3, enqueued: 3, skipped: 0, errors: 0 });
    v.finish();
    assert.equal(lines.length, 2);
  });

  it('the summary names the batch only when something was queued, and says when the scan was interrupted', () => {
    assert.equal(scanSummary('/d', summary({ matched: 3, skipped: 3 })), 'scanned /d: 3 files matched, 0 enqueued, 3 unchanged, 0 errors');
    assert.equal(
      scanSummary('/d', summary({ matched: 3, enqueued: 1, skipped: 2, batchId: 'b1', interrupted: true })),
      'scanned /d: 3 files matched, 1 enqueued, 2 unchanged, 0 errors; batch b1 (casparian jobs --batch b1) — interrupted: the Sentinel is shutting down; scan again for the rest',
    );
  });
});
