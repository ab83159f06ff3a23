import { strict as assert } from 'node:assert';
import { parseTraceparent, traceFields } from '../../../services/common/trace-context';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const VALID = `00-${TRACE}-${PARENT}-01`;

const problem = (v: string): string => {
  const r = parseTraceparent(v);
  assert.equal(r.ok, false, `${v} was accepted`);
  return r.ok ? '' : r.problem;
};

describe('unit: W3C traceparent', () => {
  it('parses a valid version-00 header into its fields', () => {
    assert.deepEqual(parseTraceparent(VALID), { ok: true, trace: { traceparent: VALID, traceId: TRACE, parentId: PARENT, flags: '01' } });
    assert.deepEqual(traceFields(VALID), { trace_id: TRACE, traceparent: VALID });
    assert.deepEqual(traceFields(null), {});
  });

  it('refuses version ff and a version that is not hex', () => {
    assert.match(problem(`ff-${TRACE}-${PARENT}-01`), /version ff/);
    assert.match(problem(`0g-${TRACE}-${PARENT}-01`), /lowercase hex/);
  });

  it('reads a later version by its version-00 fields, and refuses one whose extra part does not start with a dash', () => {
    const r = parseTraceparent(`cc-${TRACE}-${PARENT}-01-what-comes-next`);
    assert.ok(r.ok);
    assert.equal(r.trace.traceparent, VALID, 'kept in version-00 form');
    assert.match(problem(`cc-${TRACE}-${PARENT}-01x`), /wrong length/);
  });

  it('refuses all-zero trace and parent ids', () => {
    assert.match(problem(`00-${'0'.repeat(32)}-${PARENT}-01`), /all-zero trace-id/);
    assert.match(problem(`00-${TRACE}-${'0'.repeat(16)}-01`), /all-zero parent-id/);
  });

  it('refuses bad hex: uppercase, other letters', () => {
    problem(`00-${TRACE.toUpperCase()}-${PARENT}-01`);
    problem(`00-${TRACE.slice(0, -1)}z-${PARENT}-01`);
    problem(`00-${TRACE}-${PARENT}-0x`);
  });

  it('refuses wrong lengths: ids short or long, extra characters after version 00, empty', () => {
    problem(`00-${TRACE.slice(1)}-${PARENT}-01`);
    problem(`00-${TRACE}0-${PARENT}-01`);
    problem(`00-${TRACE}-${PARENT.slice(1)}-01`);
    assert.match(problem(`${VALID}-extra`), /wrong length/);
    assert.match(problem(`${VALID} `), /wrong length/);
    problem('');
  });
});
