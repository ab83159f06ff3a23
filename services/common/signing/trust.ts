/**
 * A worker's trust policy: which public keys it accepts plugin signatures
 * from, and whether it runs unsigned plugins at all. Read once at startup
 * (compileWorkerConfig); restart the worker to change it.
 *
 * `--trusted-keys` names files or directories (several, separated like PATH):
 * a file holds one or more SPKI PEM Ed25519 public keys; a directory
 * contributes every `*.pub` and `*.pem` file in it. Several keys at once is
 * how a key is rotated. A private key in there is refused: a worker needs
 * public keys only.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../config-error';
import { keyIdOf } from './signature';

export interface TrustPolicy {
  /** Public keys whose signatures this worker accepts, by key id. */
  keys: ReadonlyMap<string, crypto.KeyObject>;
  /** Run unsigned plugins (--allow-unsigned, development only). Signed plugins are verified either way. */
  allowUnsigned: boolean;
}

const PEM_BLOCK_RE = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** The public keys of one PEM text, by key id; throws ConfigError naming `where`. */
export function parseTrustedKeys(text: string, where: string): Map<string, crypto.KeyObject> {
  const out = new Map<string, crypto.KeyObject>();
  for (const m of text.matchAll(PEM_BLOCK_RE)) {
    if (m[1].includes('PRIVATE')) throw new ConfigError(`${where} holds a private key; give workers the public key only (the .pub file of casparian keygen)`);
    let key: crypto.KeyObject;
    try {
      key = crypto.createPublicKey(m[0]);
    } catch (err) {
      throw new ConfigError(`${where}: a PEM block is not a public key: ${(err as Error).message}`);
    }
    if (key.asymmetricKeyType !== 'ed25519') throw new ConfigError(`${where}: a ${key.asymmetricKeyType} key; plugin signatures are Ed25519 (casparian keygen)`);
    out.set(keyIdOf(key), key);
  }
  if (out.size === 0) throw new ConfigError(`${where} holds no PEM public key`);
  return out;
}

function readFile(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${what}: cannot read ${file}: ${(err as Error).message}`);
  }
}

/** The keys of every file or directory in `paths`; `what` names the setting in errors. */
export function readTrustedKeys(paths: readonly string[], what: string): Map<string, crypto.KeyObject> {
  const keys = new Map<string, crypto.KeyObject>();
  for (const p of paths) {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch (err) {
      throw new ConfigError(`${what}: ${p} cannot be read: ${(err as Error).message}`);
    }
    const files = st.isDirectory()
      ? fs.readdirSync(p).filter((f) => /\.(pub|pem)$/.test(f)).sort().map((f) => path.join(p, f))
      : [p];
    if (st.isDirectory() && files.length === 0) throw new ConfigError(`${what}: directory ${p} has no *.pub or *.pem file`);
    for (const f of files) for (const [id, k] of parseTrustedKeys(readFile(f, what), `${what} ${f}`)) keys.set(id, k);
  }
  return keys;
}
