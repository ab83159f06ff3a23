import * as assert from 'node:assert/strict';
import { envHashOf, isEnvHash, shortHash } from '../../../services/worker/envs/env-hash';

describe('envs/env-hash', () => {
  it('is the sha256 hex of the lockfile bytes', () => {
    // sha256("abc")
    const abc = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
    assert.equal(envHashOf('abc'), abc);
    assert.equal(envHashOf(Buffer.from('abc')), abc);
    assert.notEqual(envHashOf('pyarrow==25.0.1\n'), envHashOf('pyarrow==25.0.1'));
  });

  it('accepts only 64 lowercase hex characters', () => {
    assert.equal(isEnvHash(envHashOf('x')), true);
    assert.equal(isEnvHash(envHashOf('x').toUpperCase()), false);
    assert.equal(isEnvHash('../../etc'), false);
    assert.equal(isEnvHash(envHashOf('x') + '0'), false);
    assert.equal(shortHash(envHashOf('abc')), 'ba7816bf8f01');
  });
});
