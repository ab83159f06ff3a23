import * as assert from 'node:assert/strict';
import { parsePythonSpec, satisfies } from '../../../services/worker/envs/python-spec';

const ok = (v: string, spec: string) => satisfies(v, parsePythonSpec(spec));

describe('envs/python-spec', () => {
  it('treats a bare or == version as a prefix match', () => {
    assert.equal(ok('3.11.7', '3.11'), true);
    assert.equal(ok('3.11.7', '==3.11'), true);
    assert.equal(ok('3.12.0', '3.11'), false);
    assert.equal(ok('3.11.7', '==3.11.7'), true);
    assert.equal(ok('3.11.8', '==3.11.7'), false);
    assert.equal(ok('3.11.7', '==3.11.*'), true);
  });

  it('combines range clauses', () => {
    assert.equal(ok('3.11.7', '>=3.10,<3.13'), true);
    assert.equal(ok('3.13.1', '>=3.10,<3.13'), false);
    assert.equal(ok('3.9.18', '>=3.10'), false);
    assert.equal(ok('3.12.1', '<=3.12'), true);
    assert.equal(ok('3.12.0', '>3.12'), false);
    assert.equal(ok('3.13.0', '>3.12'), true);
    assert.equal(ok('3.11.2', '!=3.11'), false);
    assert.equal(ok('3.11.4', '~=3.11.2'), true);
    assert.equal(ok('3.12.0', '~=3.11.2'), false);
    assert.equal(ok('3.13.0rc1', '>=3.13'), true);
  });

  it('rejects nonsense with the clause named', () => {
    assert.throws(() => parsePythonSpec('>=three'), /"?>=three"?/);
    assert.throws(() => parsePythonSpec(' , '), /empty/);
  });
});
