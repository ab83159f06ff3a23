/**
 * The signature fields of a publish request, checked for shape only. The
 * Sentinel holds no keys and does not verify signatures (workers do, against
 * their trusted keys); it refuses what could never verify anywhere, so that
 * a typo fails at publish rather than on every worker.
 *
 * Input is a plain shape (the generated PublishPluginRequest fits it).
 */
import { invalidArgument } from '../../common/rpc-error';
import { isKeyId, SIGNATURE_BYTES } from '../../common/signing/signature';
import type { StoredSignature } from './registry';

export function publishedSignature(req: { version: string; signature: Uint8Array; signingKeyId: string }): StoredSignature | undefined {
  const hasSig = req.signature.length > 0;
  const hasKey = req.signingKeyId !== '';
  if (!hasSig && !hasKey) return undefined;
  if (!hasSig) throw invalidArgument('signing_key_id is set but signature is empty; send both or neither');
  if (!hasKey) throw invalidArgument('signature is set but signing_key_id is empty; send both or neither');
  if (req.signature.length !== SIGNATURE_BYTES) throw invalidArgument(`signature must be a ${SIGNATURE_BYTES}-byte Ed25519 signature, got ${req.signature.length} bytes`);
  if (!isKeyId(req.signingKeyId)) throw invalidArgument(`signing_key_id must be 16 lowercase hex digits (casparian keygen prints it), got "${req.signingKeyId.slice(0, 40)}"`);
  if (!req.version) throw invalidArgument('a signed plugin must name its version: the signature covers it');
  return { signature: Buffer.from(req.signature).toString('base64'), keyId: req.signingKeyId };
}
