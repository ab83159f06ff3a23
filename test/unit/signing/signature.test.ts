/** Ed25519 signing of plugin artifacts: keys, key ids, what is signed, and what a signature does not cover. */
import { strict as assert } from 'node:assert';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileWorkerConfig } from '../../../services/common/config';
import { ConfigError } from '../../../services/common/config-error';
import { artifactHash } from '../../../services/common/signing/artifact-hash';
import { generateSigningKey, keyIdOf, parsePrivateKey, signArtifact, signedMessage, verifyArtifact } from '../../../services/common/signing/signature';
import { readTrustedKeys } from '../../../services/common/signing/trust';

describe('unit: artifact signatures', () => {
  const k = generateSigningKey();
  const priv = parsePrivateKey(k.privatePem, 'test key');
  const pub = crypto.createPublicKey(k.publicPem);
  const artifact = { name: 'orders', version: '1.0.0', artifactHash: artifactHash('def parse(p): pass\n', 'pyarrow==1\n', '{}') };

  it('makes PEM keys whose key id is the first 16 hex of sha256 of the raw public key', () => {
    assert.match(k.privatePem, /^-----BEGIN PRIVATE KEY-----/);
    assert.match(k.publicPem, /^-----BEGIN PUBLIC KEY-----/);
    const raw = pub.export({ format: 'der', type: 'spki' }).subarray(-32); // an Ed25519 SPKI ends with the 32 raw bytes
    assert.equal(k.keyId, crypto.createHash('sha256').update(raw).digest('hex').slice(0, 16));
    assert.equal(keyIdOf(priv), k.keyId, 'the private key names the same id');
  });

  it('signs a domain-separated statement of name, version and artifact hash, and verifies it', () => {
    assert.equal(signedMessage(artifact).toString(), `casparian-artifact-v1\nname=orders\nversion=1.0.0\nartifact=${artifact.artifactHash}\n`);
    const { signature, keyId } = signArtifact(priv, artifact);
    assert.equal(signature.length, 64);
    assert.equal(keyId, k.keyId);
    assert.equal(verifyArtifact(pub, artifact, signature), true);
  });

  it('does not verify a signature replayed onto another plugin name or version, or another artifact', () => {
    const { signature } = signArtifact(priv, artifact);
    assert.equal(verifyArtifact(pub, { ...artifact, name: 'orders2' }, signature), false, 'another name');
    assert.equal(verifyArtifact(pub, { ...artifact, version: '1.0.1' }, signature), false, 'another version');
    const tampered = artifactHash('def parse(p): import os\n', 'pyarrow==1\n', '{}');
    assert.equal(verifyArtifact(pub, { ...artifact, artifactHash: tampered }, signature), false, 'another source');
  });

  it('does not verify a signature by another key, a flipped bit or a malformed signature', () => {
    const other = parsePrivateKey(generateSigningKey().privatePem, 'other');
    assert.equal(verifyArtifact(pub, artifact, signArtifact(other, artifact).signature), false);
    const flipped = Buffer.from(signArtifact(priv, artifact).signature);
    flipped[10] ^= 1;
    assert.equal(verifyArtifact(pub, artifact, flipped), false);
    assert.equal(verifyArtifact(pub, artifact, Buffer.alloc(3)), false);
    assert.equal(verifyArtifact(pub, { ...artifact, name: 'a\nversion=2' }, signArtifact(priv, artifact).signature), false, 'a name that would forge a line');
  });

  it('refuses a key that is not Ed25519', () => {
    const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' });
    assert.throws(() => parsePrivateKey(rsa, 'rsa.pem'), /rsa.pem is a rsa key/);
    assert.throws(() => parsePrivateKey('not a key', 'x.pem'), /x.pem is not a PEM private key/);
  });

  describe('trusted keys', () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-trust-'))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('reads several keys from a file, and every *.pub / *.pem of a directory (rotation: old and new at once)', () => {
      const a = generateSigningKey();
      const b = generateSigningKey();
      const c = generateSigningKey();
      fs.writeFileSync(path.join(dir, 'both.pem'), a.publicPem + b.publicPem);
      fs.writeFileSync(path.join(dir, 'c.pub'), c.publicPem);
      fs.writeFileSync(path.join(dir, 'README'), 'not a key');
      assert.deepEqual([...readTrustedKeys([path.join(dir, 'both.pem')], 't').keys()].sort(), [a.keyId, b.keyId].sort());
      assert.deepEqual([...readTrustedKeys([dir], 't').keys()].sort(), [a.keyId, b.keyId, c.keyId].sort());
    });

    it('worker config: signatures required by default; --allow-unsigned or CASPARIAN_ALLOW_UNSIGNED=1 is the development flag', () => {
      const base = { sentinel: '127.0.0.1:1', 'worker-port': '-1' };
      const pub = generateSigningKey();
      fs.writeFileSync(path.join(dir, 'k.pub'), pub.publicPem);
      const strict = compileWorkerConfig(base, {});
      assert.equal(strict.trust.allowUnsigned, false);
      assert.equal(strict.trust.keys.size, 0);
      assert.equal(compileWorkerConfig({ ...base, 'allow-unsigned': true }, {}).trust.allowUnsigned, true);
      assert.equal(compileWorkerConfig(base, { CASPARIAN_ALLOW_UNSIGNED: '1' }).trust.allowUnsigned, true);
      assert.equal(compileWorkerConfig(base, { CASPARIAN_ALLOW_UNSIGNED: '0' }).trust.allowUnsigned, false);
      assert.throws(() => compileWorkerConfig(base, { CASPARIAN_ALLOW_UNSIGNED: 'yes please' }), ConfigError);
      assert.deepEqual([...compileWorkerConfig(base, { CASPARIAN_TRUSTED_KEYS: dir }).trust.keys.keys()], [pub.keyId]);
      assert.deepEqual([...compileWorkerConfig({ ...base, 'trusted-keys': path.join(dir, 'k.pub') }, {}).trust.keys.keys()], [pub.keyId]);
    });

    it('refuses a private key, a file without keys and a missing path, naming them', () => {
      fs.writeFileSync(path.join(dir, 'oops.pem'), generateSigningKey().privatePem);
      assert.throws(() => readTrustedKeys([path.join(dir, 'oops.pem')], '--trusted-keys'), (e: Error) => e instanceof ConfigError && /oops.pem holds a private key/.test(e.message));
      fs.writeFileSync(path.join(dir, 'empty.pub'), 'nothing\n');
      assert.throws(() => readTrustedKeys([path.join(dir, 'empty.pub')], '--trusted-keys'), /empty.pub holds no PEM public key/);
      assert.throws(() => readTrustedKeys([path.join(dir, 'missing')], '--trusted-keys'), /--trusted-keys: .*missing cannot be read/);
    });
  });
});
