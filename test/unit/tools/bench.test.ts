/** The bench's pure parts: quantiles, ratios and the table, isolation variants, its command line. */
import { strict as assert } from 'node:assert';
import { compileOptions, SCALES, UsageError } from '../../../tools/bench/options';
import { areaOf } from '../../../tools/bench/profile-summary';
import { quantile } from '../../../tools/bench/stats';
import { ratioOf, renderTable } from '../../../tools/bench/table';
import type { Row } from '../../../tools/bench/types';
import { isolationVariants } from '../../../tools/bench/variants';

const row = (over: Partial<Row>): Row => ({ id: '1', title: 'trivial jobs/s', unit: 'jobs/s', better: 'higher', refLabel: 'Ray', note: 'n=3', ...over });

describe('unit: bench', () => {
  it('quantile is nearest-rank: p99 of 1..100 is 99, p50 is 50, p99 of 20 samples is the largest', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
    assert.equal(quantile(hundred, 0.99), 99);
    assert.equal(quantile(hundred, 0.5), 50);
    assert.equal(quantile(hundred, 0.07), 7); // 0.07 * 100 is 7.000000000000001 in floating point
    assert.equal(quantile(Array.from({ length: 20 }, (_, i) => i), 0.99), 19);
    assert.ok(Number.isNaN(quantile([], 0.5)));
  });

  it('the ratio is figure ÷ reference, and absent when either is missing', () => {
    assert.equal(ratioOf(row({ value: 5, reference: 1000 })), 0.005);
    assert.equal(ratioOf(row({ value: 5, refMissing: 'skipped: no ray' })), undefined);
    assert.equal(ratioOf(row({ failed: 'boom', reference: 3 })), undefined);
  });

  it('the table shows a skipped reference as skipped with its reason, and a failed figure as FAILED', () => {
    const t = renderTable([row({ value: 5, refMissing: 'skipped: ray cannot be imported' }), row({ id: '2', failed: 'the Sentinel exited' })]);
    assert.match(t, /^1 .*5\.00 jobs\/s\s+skipped\s+—/m);
    assert.match(t, /^1: reference skipped: ray cannot be imported$/m);
    assert.match(t, /^2 .*FAILED.*failed: the Sentinel exited/m);
  });

  it('an isolation level becomes --isolation when the worker has the flag; before that only spawn runs, without a flag', () => {
    assert.deepEqual(isolationVariants(['spawn', 'fork'], true), [
      { name: 'spawn', workerFlags: { isolation: 'spawn' } },
      { name: 'fork', workerFlags: { isolation: 'fork' } },
    ]);
    assert.deepEqual(isolationVariants(['spawn'], false), [{ name: 'spawn', workerFlags: {} }]);
    assert.throws(() => isolationVariants(['fork'], false), /no --isolation flag/);
  });

  it('the command line: --quick picks the quick scale, --only and --isolation narrow, unknown names are usage errors', () => {
    const groups = ['trivial', 'files'];
    const o = compileOptions(['--quick', '--only', 'files', '--isolation=spawn,fork'], '/repo', groups, ['spawn']);
    assert.equal(o.scale, SCALES.quick);
    assert.deepEqual(o.only, ['files']);
    assert.deepEqual(o.isolation, ['spawn', 'fork']);
    assert.equal(compileOptions([], '/repo', groups, ['spawn']).scale, SCALES.full);
    assert.throws(() => compileOptions(['--only', 'nope'], '/repo', groups, ['spawn']), UsageError);
    assert.throws(() => compileOptions(['--jobs', '3'], '/repo', groups, ['spawn']), UsageError);
  });

  it('profile areas: npm packages, directories of this repo, node internals', () => {
    assert.equal(areaOf('file:///x/node_modules/@grpc/grpc-js/build/src/call.js', 'f'), 'npm:@grpc/grpc-js');
    assert.equal(areaOf('file:///x/dist/services/sentinel/queue/claim.js', 'f'), 'services/sentinel/queue');
    assert.equal(areaOf('file:///x/dist/services/common/config.js', 'f'), 'services/common');
    assert.equal(areaOf('node:internal/child_process', 'spawn'), 'node:internal');
    assert.equal(areaOf('', '(garbage collector)'), '(garbage collector)');
  });
});
