/**
 * `casparian keygen --out PREFIX`: a new Ed25519 signing key pair.
 * PREFIX.key is the private key (PKCS#8 PEM, mode 0600) for
 * `casparian publish --sign-key`; PREFIX.pub the public key (SPKI PEM) for
 * workers' --trusted-keys. Prints the key id. Never overwrites a file.
 */
import * as fs from 'node:fs';
import type { Flags } from '../../services/common/config';
import { generateSigningKey } from '../../services/common/signing/signature';
import { UsageError } from './usage';

const USAGE = 'usage: casparian keygen --out PREFIX   (writes PREFIX.key, private, and PREFIX.pub, public)';

export function keygenCommand(args: string[], flags: Flags): number {
  const prefix = flags.out;
  if (args.length !== 0 || typeof prefix !== 'string' || !prefix) throw new UsageError(USAGE);
  const privateFile = `${prefix}.key`;
  const publicFile = `${prefix}.pub`;
  for (const f of [privateFile, publicFile]) if (fs.existsSync(f)) throw new UsageError(`${f} already exists; keygen never overwrites a key (choose another --out)`);
  const k = generateSigningKey();
  // 'wx' fails if the file appeared meanwhile; the private key is never readable by others, not even briefly.
  fs.writeFileSync(privateFile, k.privatePem, { mode: 0o600, flag: 'wx' });
  try {
    fs.writeFileSync(publicFile, k.publicPem, { mode: 0o644, flag: 'wx' });
  } catch (err) {
    fs.rmSync(privateFile, { force: true });
    throw err;
  }
  if (flags.json) process.stdout.write(`${JSON.stringify({ keyId: k.keyId, privateKey: privateFile, publicKey: publicFile })}\n`);
  else process.stdout.write(`${k.keyId}\n`);
  process.stderr.write(
    `key ${k.keyId}: private key ${privateFile} (sign with casparian publish --sign-key ${privateFile}; keep it secret), ` +
      `public key ${publicFile} (give it to workers: --trusted-keys)\n`,
  );
  return 0;
}
