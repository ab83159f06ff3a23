/** --priority, --not-before and the job views that show them. */
import { strict as assert } from 'node:assert';
import { JobState, type Job } from '../../../services/gen/casparian/v1/types';
import { jobDetail, jobsTable } from '../../../tools/cli/format';
import { notBeforeFlag, priorityFlag } from '../../../tools/cli/queue-flags';
import { UsageError } from '../../../tools/cli/usage';

const NOW = Date.UTC(2030, 0, 2, 3, 4, 5);

describe('unit: CLI queue flags', () => {
  it('--priority takes any int32, signed; 0 when absent', () => {
    assert.equal(priorityFlag({}), 0);
    assert.equal(priorityFlag({ priority: '7' }), 7);
    assert.equal(priorityFlag({ priority: '-5' }), -5);
    for (const bad of ['x', '1.5', '', '2147483648']) assert.throws(() => priorityFlag({ priority: bad }), UsageError, bad);
  });

  it('--not-before takes an ISO-8601 time or a duration from now', () => {
    assert.equal(notBeforeFlag({}, NOW), undefined);
    assert.equal(notBeforeFlag({ 'not-before': '+10m' }, NOW)?.getTime(), NOW + 600_000);
    assert.equal(notBeforeFlag({ 'not-before': '30s' }, NOW)?.getTime(), NOW + 30_000);
    assert.equal(notBeforeFlag({ 'not-before': '2031-05-06T07:08:09Z' }, NOW)?.toISOString(), '2031-05-06T07:08:09.000Z');
    assert.equal(notBeforeFlag({ 'not-before': '2031-05-06T07:08:09+02:00' }, NOW)?.toISOString(), '2031-05-06T05:08:09.000Z');
    assert.equal(notBeforeFlag({ 'not-before': '2031-05-06' }, NOW)?.toISOString(), '2031-05-06T00:00:00.000Z');
    for (const bad of ['tomorrow', '10', '+10x', '2031-13-45T00:00:00Z', '0s', 'Tue, 06 May 2031']) {
      assert.throws(() => notBeforeFlag({ 'not-before': bad }, NOW), (e: Error) => e instanceof UsageError && /--not-before/.test(e.message), bad);
    }
  });

  it('job and jobs show priority and not_before only when set', () => {
    const job = { id: 'j1', pluginName: 'p', pluginVersion: '1', inputPath: '/in', state: JobState.JOB_STATE_QUEUED, attempt: 0, maxAttempts: 3, envHash: 'e', outputs: [], priority: 0 } as unknown as Job;
    assert.doesNotMatch(jobsTable([job]), /PRIORITY|NOT BEFORE/);
    assert.doesNotMatch(jobDetail(job, []), /priority|not before/);
    const set = { ...job, priority: -2, notBefore: new Date(NOW) };
    assert.match(jobsTable([job, set]).split('\n')[0], /ATTEMPT  PRIORITY  NOT BEFORE/);
    assert.match(jobsTable([job, set]).split('\n')[2], / -2 +2030-01-02T03:04:05.000Z/);
    assert.match(jobDetail(set, []), /priority   -2\nnot before 2030-01-02T03:04:05.000Z/);
  });
});
