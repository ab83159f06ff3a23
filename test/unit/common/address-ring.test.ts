/** AddressRing: the current address, moving on past a failed one (only if it is still current), settling on one that answered. */
import { strict as assert } from 'node:assert';
import { AddressRing } from '../../../services/common/address-ring';

describe('unit: AddressRing', () => {
  it('starts at the first address and moves on round the ring', () => {
    const r = new AddressRing(['a', 'b', 'c']);
    assert.equal(r.current, 'a');
    assert.deepEqual(r.order(), ['a', 'b', 'c']);
    assert.equal(r.passOver('a'), 'b');
    assert.deepEqual(r.order(), ['b', 'c', 'a']);
    assert.equal(r.passOver('b'), 'c');
    assert.equal(r.passOver('c'), 'a');
  });

  it('passes over an address only while it is current (two callers seeing one failure move once)', () => {
    const r = new AddressRing(['a', 'b', 'c']);
    r.passOver('a');
    assert.equal(r.passOver('a'), 'b', 'a second report of the same failure');
    r.settle('c');
    assert.equal(r.current, 'c');
    r.settle('elsewhere');
    assert.equal(r.current, 'c');
  });

  it('with one address stays on it, and refuses none', () => {
    const r = new AddressRing(['only']);
    assert.equal(r.passOver('only'), 'only');
    assert.throws(() => new AddressRing([]));
  });
});
