/**
 * Bearer tokens by role, stored hashed. The tokens file (`--tokens-file FILE`,
 * CASPARIAN_TOKENS_FILE) has one token per line:
 *
 *     # role   sha256 of the token          name     optional expiry
 *     client   sha256:3f1c…(64 hex)          alice
 *     worker   sha256:9ab0…(64 hex)          pool-a   expires=2027-03-01T00:00:00Z
 *
 * `casparian token create --role R --name N --tokens-file FILE [--expires-in 90d]`
 * makes a token, appends its line and prints the token once. An expired
 * token is refused (UNAUTHENTICATED, saying it expired) until its line is
 * deleted.
 * The file holds only hashes, so reading it gives no one a token. It is read
 * again when it changes (checked at most once a second), so tokens are added
 * and revoked without a restart; an edit that does not parse keeps the
 * tokens in force and is logged.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { ConfigError } from '../config-error';
import type { Logger } from '../logger';

export const ROLES = ['client', 'worker'] as const;
export type Role = (typeof ROLES)[number];

export interface TokenEntry {
  role: Role;
  name: string;
  /** Epoch ms from which the token is refused; undefined = never. */
  expiresAt?: number;
}

/** The stored form of a token: `sha256:` + hex of its SHA-256. */
export function hashToken(token: string): string {
  return `sha256:${crypto.createHash('sha256').update(token, 'utf8').digest('hex')}`;
}

/** A new random token (32 bytes, base64url, prefixed so that leaked ones are easy to search for). */
export function newToken(): string {
  return `cft_${crypto.randomBytes(32).toString('base64url')}`;
}

/** The tokens of a file's text, by hash; throws naming the line of the first error. */
export function parseTokens(text: string, file: string): Map<string, TokenEntry> {
  const out = new Map<string, TokenEntry>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const [role, hash, name = '', expiry, ...rest] = line.split(/\s+/);
    const where = `${file}:${i + 1}`;
    if (rest.length) throw new ConfigError(`${where}: expected "ROLE sha256:HEX [NAME [expires=ISO-8601]]", got ${rest.length + 4} fields`);
    if (!(ROLES as readonly string[]).includes(role)) throw new ConfigError(`${where}: role must be ${ROLES.join(' or ')}, got "${role}"`);
    if (!/^sha256:[0-9a-f]{64}$/.test(hash ?? '')) throw new ConfigError(`${where}: the token must be stored as sha256:<64 lowercase hex> (casparian token create writes the line)`);
    if (out.has(hash)) throw new ConfigError(`${where}: the same token is listed twice`);
    const entry: TokenEntry = { role: role as Role, name: name || `${role}@line${i + 1}` };
    if (expiry !== undefined) entry.expiresAt = parseExpiry(expiry, where);
    out.set(hash, entry);
  });
  return out;
}

/** `expires=2027-03-01T00:00:00Z` (any ISO-8601 time with a zone) as epoch ms. */
function parseExpiry(field: string, where: string): number {
  const m = /^expires=(\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:\d\d))$/.exec(field);
  const at = m ? Date.parse(m[1]) : NaN;
  if (Number.isNaN(at)) throw new ConfigError(`${where}: the fourth field must be expires=<ISO-8601 time with a zone>, e.g. expires=2027-03-01T00:00:00Z; got "${field}"`);
  return at;
}

function unreadable(file: string, e: unknown): ConfigError {
  return new ConfigError(`--tokens-file (CASPARIAN_TOKENS_FILE): cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
}

/** The tokens of `file`; a ConfigError naming the setting (or the bad line) when it cannot be read or parsed. */
export function readTokensFile(file: string): Map<string, TokenEntry> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw unreadable(file, e);
  }
  return parseTokens(text, file);
}

export class TokenStore {
  private tokens: Map<string, TokenEntry>;
  private stamp: string;
  private checkedAt = 0;

  /** Reads `file` now: a missing or bad file is a ConfigError at startup. */
  constructor(
    readonly file: string,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.stamp = this.statStamp();
    this.tokens = this.read();
  }

  /** Who holds `token`, or undefined for an unknown (or revoked) one. */
  lookup(token: string): TokenEntry | undefined {
    this.refresh();
    return this.tokens.get(hashToken(token));
  }

  get size(): number {
    return this.tokens.size;
  }

  private statStamp(): string {
    try {
      const st = fs.statSync(this.file);
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch (e) {
      throw unreadable(this.file, e);
    }
  }

  private read(): Map<string, TokenEntry> {
    return readTokensFile(this.file);
  }

  /** Re-read the file when it changed; at most once a second. */
  private refresh(): void {
    const t = this.now();
    if (t - this.checkedAt < 1_000) return;
    this.checkedAt = t;
    try {
      const stamp = this.statStamp();
      if (stamp === this.stamp) return;
      const next = this.read();
      this.stamp = stamp;
      this.tokens = next;
      this.logger.info('auth tokens reloaded', { file: this.file, tokens: next.size });
    } catch (e) {
      this.logger.error('auth tokens file not reloaded; the tokens in force stay', { file: this.file, error: (e as Error).message });
    }
  }
}
