import { strict as assert } from 'node:assert';
import { ProgressView } from '../../../tools/cli/progress';

const counts = (o: Partial<Record<'total' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'deadLetter', number>>) => ({
  total: 0, queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0, deadLetter: 0, ...o,
});

describe('unit: CLI progress view', () => {
  it('redraws one bar in place on a TTY, with rate and ETA, and ends it with a newline', () => {
    let now = 0;
    let out = '';
    const v = new ProgressView({ tty: true, write: (s) => (out += s), now: () => now });
    now = 2_000;
    v.update(counts({ total: 10, succeeded: 3, failed: 1, running: 2, queued: 4 }));
    assert.equal(out, '\r\x1b[K[##########..............] 4/10 done: 3 succeeded, 1 failed; 2 running, 4 queued; 2.0 jobs/s, ETA 3 s');
    now = 5_000;
    v.update(counts({ total: 10, succeeded: 10 }));
    v.finish();
    assert.ok(out.endsWith('\r\x1b[K[########################] 10/10 done: 10 succeeded; 0 running, 0 queued; 2.0 jobs/s\n'), JSON.stringify(out));
  });

  it('writes plain lines at most every everyMs off a TTY, and always a last one', () => {
    let now = 0;
    const lines: string[] = [];
    const v = new ProgressView({ tty: false, write: (s) => lines.push(s), now: () => now, everyMs: 1_000 });
    now = 1_000;
    v.update(counts({ total: 4, running: 2, queued: 2 }));
    now = 1_500;
    v.update(counts({ total: 4, succeeded: 1, running: 2, queued: 1 })); // too soon: not printed
    now = 2_000;
    v.update(counts({ total: 4, succeeded: 2, deadLetter: 1, running: 1 }));
    v.finish();
    assert.deepEqual(lines, [
      '0/4 done: 0 succeeded; 2 running, 2 queued; 0.0 jobs/s\n',
      '3/4 done: 2 succeeded, 0 failed, 1 dead-lettered; 1 running, 0 queued; 1.5 jobs/s, ETA 1 s\n',
      '3/4 done: 2 succeeded, 0 failed, 1 dead-lettered; 1 running, 0 queued; 1.5 jobs/s, ETA 1 s\n',
    ]);
  });
});
