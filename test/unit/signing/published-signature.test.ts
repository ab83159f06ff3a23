/** The Sentinel's shape check of a publish request's signature fields (it verifies nothing: it holds no keys). */
import { strict as assert } from 'node:assert';
import { status } from '@grpc/grpc-js';
import { RpcError } from '../../../services/common/rpc-error';
import { publishedSignature } from '../../../services/sentinel/plugins/published-signature';

describe('unit: publish signature fields', () => {
  const sig = Buffer.alloc(64, 7);
  const invalid = (re: RegExp) => (e: unknown) => e instanceof RpcError && e.code === status.INVALID_ARGUMENT && re.test(e.message);

  it('stores a well-formed signature as base64 with its key id; none is unsigned', () => {
    assert.deepEqual(publishedSignature({ version: '1.0.0', signature: sig, signingKeyId: '0123456789abcdef' }), { signature: sig.toString('base64'), keyId: '0123456789abcdef' });
    assert.equal(publishedSignature({ version: '', signature: Buffer.alloc(0), signingKeyId: '' }), undefined);
  });

  it('refuses with INVALID_ARGUMENT what could never verify, naming the field', () => {
    assert.throws(() => publishedSignature({ version: '1', signature: Buffer.alloc(63), signingKeyId: '0123456789abcdef' }), invalid(/64-byte Ed25519 signature, got 63/));
    assert.throws(() => publishedSignature({ version: '1', signature: sig, signingKeyId: 'ABC' }), invalid(/signing_key_id must be 16 lowercase hex/));
    assert.throws(() => publishedSignature({ version: '1', signature: sig, signingKeyId: '' }), invalid(/signing_key_id is empty/));
    assert.throws(() => publishedSignature({ version: '1', signature: Buffer.alloc(0), signingKeyId: '0123456789abcdef' }), invalid(/signature is empty/));
    assert.throws(() => publishedSignature({ version: '', signature: sig, signingKeyId: '0123456789abcdef' }), invalid(/must name its version/));
  });
});
