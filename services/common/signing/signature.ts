/**
 * Ed25519 signatures over plugin artifacts (node:crypto only).
 *
 * What is signed is a domain-separated statement naming the plugin version
 * and its artifact hash:
 *
 *     casparian-artifact-v1\n
 *     name=<plugin name>\n
 *     version=<plugin version>\n
 *     artifact=<artifact hash, 64 lowercase hex>\n
 *
 * so a signature cannot be replayed onto another name or version, nor taken
 * for a signature of anything else made with the same key. A key is named by
 * its key id: the first 16 hex digits of the sha256 of the raw 32-byte public
 * key. Private keys are PKCS#8 PEM, public keys SPKI PEM.
 */
import * as crypto from 'node:crypto';

export const SIGNATURE_DOMAIN = 'casparian-artifact-v1';
export const SIGNATURE_BYTES = 64;
const KEY_ID_RE = /^[0-9a-f]{16}$/;
const HASH_RE = /^[0-9a-f]{64}$/;

/** What one signature covers. */
export interface SignedArtifact {
  name: string;
  version: string;
  artifactHash: string;
}

/** The exact bytes that are signed and verified. */
export function signedMessage(a: SignedArtifact): Buffer {
  for (const [field, v] of [['name', a.name], ['version', a.version]] as const) {
    if (!v || /[\n\r\0]/.test(v)) throw new Error(`the plugin ${field} of a signed artifact must be non-empty and on one line`);
  }
  if (!HASH_RE.test(a.artifactHash)) throw new Error('the artifact hash of a signed artifact must be 64 lowercase hex digits');
  return Buffer.from(`${SIGNATURE_DOMAIN}\nname=${a.name}\nversion=${a.version}\nartifact=${a.artifactHash}\n`, 'utf8');
}

export function isKeyId(s: string): boolean {
  return KEY_ID_RE.test(s);
}

/** The key id of an Ed25519 key (public, or the public half of a private one). */
export function keyIdOf(key: crypto.KeyObject): string {
  const pub = key.type === 'private' ? crypto.createPublicKey(key) : key;
  requireEd25519(pub, 'key');
  const raw = Buffer.from(pub.export({ format: 'jwk' }).x as string, 'base64url');
  return crypto.createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

function requireEd25519(key: crypto.KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${what} is a ${key.asymmetricKeyType ?? key.type} key; Casparian signs with Ed25519 (casparian keygen makes one)`);
}

/** A new Ed25519 key pair as PEM (PKCS#8 private, SPKI public) with its key id. */
export function generateSigningKey(): { privatePem: string; publicPem: string; keyId: string } {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

/** A private signing key from PEM; throws naming `what` when it is not an Ed25519 private key. */
export function parsePrivateKey(pem: string | Buffer, what: string): crypto.KeyObject {
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey(pem);
  } catch (err) {
    throw new Error(`${what} is not a PEM private key: ${(err as Error).message}`);
  }
  requireEd25519(key, what);
  return key;
}

/** Sign an artifact: the signature and the id of the key that made it. */
export function signArtifact(privateKey: crypto.KeyObject, a: SignedArtifact): { signature: Buffer; keyId: string } {
  requireEd25519(privateKey, 'the signing key');
  return { signature: crypto.sign(null, signedMessage(a), privateKey), keyId: keyIdOf(privateKey) };
}

/** Whether `signature` is a valid signature of `a` by `publicKey`. Never throws for a malformed signature. */
export function verifyArtifact(publicKey: crypto.KeyObject, a: SignedArtifact, signature: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES) return false;
  let message: Buffer;
  try {
    message = signedMessage(a);
  } catch {
    return false;
  }
  return crypto.verify(null, message, publicKey, signature);
}
