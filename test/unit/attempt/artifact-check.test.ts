/** The worker's signature check of an attempt (no Python, no gRPC): the policy, and what a valid signature binds. */
import { strict as assert } from 'node:assert';
import * as crypto from 'node:crypto';
import { artifactHash, envHashOfLockfile } from '../../../services/common/signing/artifact-hash';
import { generateSigningKey, parsePrivateKey, signArtifact } from '../../../services/common/signing/signature';
import type { TrustPolicy } from '../../../services/common/signing/trust';
import { checkArtifact } from '../../../services/worker/attempt/artifact-check';
import type { AttemptSpec } from '../../../services/worker/attempt/types';

describe('unit: artifact check on the worker', () => {
  const key = generateSigningKey();
  const stranger = generateSigningKey();
  const trusted: TrustPolicy = { keys: new Map([[key.keyId, crypto.createPublicKey(key.publicPem)]]), allowUnsigned: false };
  const source = 'def parse(path):\n    return None\n';
  const lockfile = 'pyarrow==25.0.1\n';
  const manifestJson = JSON.stringify({ description: '', envAllow: ['REGION'], limits: { memoryMb: 512, cpuSeconds: 0, openFiles: 0 } });

  function signedSpec(signer = key, over: Partial<AttemptSpec> = {}): AttemptSpec {
    const hash = artifactHash(source, lockfile, manifestJson);
    const { signature, keyId } = signArtifact(parsePrivateKey(signer.privatePem, 'k'), { name: 'orders', version: '2.0.0', artifactHash: hash });
    return {
      jobId: 'j',
      attempt: 1,
      pluginName: 'orders',
      pluginVersion: '2.0.0',
      source,
      envHash: envHashOfLockfile(lockfile),
      lockfile,
      inputPath: '/in/x.csv',
      timeouts: { guestConnectMs: 1, idleMs: 1, startToCloseMs: 1, killGraceMs: 1 },
      envAllow: ['REGION'],
      limits: { memoryMb: 512, cpuSeconds: 0, openFiles: 0 },
      isolation: '',
      artifact: { artifactHash: hash, manifestJson, signature, signingKeyId: keyId },
      ...over,
    };
  }
  const unsigned = (): AttemptSpec => {
    const s = signedSpec();
    return { ...s, artifact: { ...s.artifact, signature: Buffer.alloc(0), signingKeyId: '' } };
  };

  it('runs a plugin signed by a trusted key', () => {
    assert.equal(checkArtifact(signedSpec(), trusted), undefined);
  });

  it('requires a signature by default, saying how to fix it; --allow-unsigned lets an unsigned plugin run', () => {
    const e = checkArtifact(unsigned(), trusted);
    assert.equal(e?.code, 'SIGNATURE_REQUIRED');
    assert.equal(e?.errorClass, 'permanent');
    assert.match(e!.message, /orders@2\.0\.0 is not signed/);
    assert.match(e!.message, /--sign-key/);
    assert.match(e!.message, /--allow-unsigned/);
    assert.equal(checkArtifact(unsigned(), { ...trusted, allowUnsigned: true }), undefined);
  });

  it('refuses a key the worker does not trust, naming it, even with --allow-unsigned', () => {
    for (const allowUnsigned of [false, true]) {
      const e = checkArtifact(signedSpec(stranger), { ...trusted, allowUnsigned });
      assert.equal(e?.code, 'SIGNATURE_INVALID');
      assert.match(e!.message, new RegExp(`signed by key ${stranger.keyId}, which this worker does not trust \\(trusted: ${key.keyId}\\)`));
    }
  });

  it('recomputes the artifact: changed source, lockfile or manifest fails, whatever hash the Sentinel claims', () => {
    for (const over of [{ source: source + 'import os\n' }, { lockfile: 'evil==1\n', envHash: envHashOfLockfile('evil==1\n') }]) {
      const e = checkArtifact(signedSpec(key, over), { ...trusted, allowUnsigned: true });
      assert.equal(e?.code, 'SIGNATURE_INVALID', JSON.stringify(Object.keys(over)));
      assert.match(e!.message, /does not verify for the artifact this worker received/);
    }
    const s = signedSpec();
    const manifest = checkArtifact({ ...s, artifact: { ...s.artifact, manifestJson: manifestJson.replace('REGION', 'AWS_SECRET') } }, trusted);
    assert.equal(manifest?.code, 'SIGNATURE_INVALID');
    const lyingHash = checkArtifact({ ...s, artifact: { ...s.artifact, artifactHash: 'f'.repeat(64) } }, trusted);
    assert.equal(lyingHash, undefined, "the Sentinel's artifact hash is never what is verified");
  });

  it('does not let a signature move to another plugin name or version', () => {
    assert.equal(checkArtifact(signedSpec(key, { pluginName: 'orders_v2' }), trusted)?.code, 'SIGNATURE_INVALID');
    assert.equal(checkArtifact(signedSpec(key, { pluginVersion: '2.0.1' }), trusted)?.code, 'SIGNATURE_INVALID');
  });

  it('binds the env and the manifest settings applied to the signed ones', () => {
    assert.equal(checkArtifact(signedSpec(key, { envHash: 'a'.repeat(64) }), trusted)?.code, 'SIGNATURE_INVALID');
    const e = checkArtifact(signedSpec(key, { envAllow: ['REGION', 'AWS_SECRET'] }), trusted);
    assert.equal(e?.code, 'SIGNATURE_INVALID');
    assert.match(e!.message, /not those of its signed manifest/);
    assert.equal(checkArtifact(signedSpec(key, { limits: { memoryMb: 0, cpuSeconds: 0, openFiles: 0 } }), trusted)?.code, 'SIGNATURE_INVALID');
  });
});
