/**
 * `casparian token create --role client|worker --name NAME --tokens-file FILE`:
 * make a token, append its hash to FILE (created 0600 if missing) and print
 * the token once: only its hash is stored. `--expires-in 90d` gives the line
 * an expiry. A running Sentinel picks the new line up by itself (the file is
 * re-read when it changes). Revoking a token is deleting its line.
 */
import * as fs from 'node:fs';
import type { Flags } from '../../services/common/config';
import { hashToken, newToken, parseTokens, ROLES } from '../../services/common/auth/tokens';
import { parseDuration } from './purge-command';
import { UsageError } from './usage';

const USAGE = 'usage: casparian token create --role client|worker --name NAME --tokens-file FILE [--expires-in DURATION, e.g. 90d]';

export function tokenCommand(args: string[], flags: Flags, env: Record<string, string | undefined>): number {
  if (args[0] !== 'create' || args.length !== 1) throw new UsageError(USAGE);
  const role = flags.role;
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role must be ${ROLES.join(' or ')}\n${USAGE}`);
  const name = flags.name;
  if (typeof name !== 'string' || !/^[A-Za-z0-9._@-]+$/.test(name)) throw new UsageError(`--name is required: letters, digits and . _ @ - only\n${USAGE}`);
  const file = typeof flags['tokens-file'] === 'string' ? flags['tokens-file'] : env.CASPARIAN_TOKENS_FILE;
  if (!file) throw new UsageError(`--tokens-file (or CASPARIAN_TOKENS_FILE) is required\n${USAGE}`);

  const expiresIn = typeof flags['expires-in'] === 'string' ? parseDuration(flags['expires-in'], '--expires-in') : undefined;
  const expires = expiresIn === undefined ? undefined : new Date(Date.now() + expiresIn * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

  const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const entries = parseTokens(existing, file); // refuse to append to a file the Sentinel could not read
  if ([...entries.values()].some((e) => e.name === name)) throw new UsageError(`${file} already has a token named "${name}"; delete its line to revoke it first`);
  const token = newToken();
  const line = `${role} ${hashToken(token)} ${name}${expires ? ` expires=${expires}` : ''}\n`;
  fs.appendFileSync(file, (existing && !existing.endsWith('\n') ? '\n' : '') + line, { mode: 0o600 });

  if (flags.json) process.stdout.write(`${JSON.stringify({ role, name, token, tokensFile: file, ...(expires ? { expires } : {}) })}\n`);
  else process.stdout.write(`${token}\n`);
  process.stderr.write(`added ${role} token "${name}"${expires ? ` (expires ${expires})` : ''} to ${file}; the token above is shown once (give it as --token or CASPARIAN_TOKEN)\n`);
  return 0;
}
