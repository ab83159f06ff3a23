/**
 * `casparian token new --role client|worker [--name NAME]`: make a token.
 * Prints the token (shown once: only its hash is stored) and the line to add
 * to the Sentinel's --auth-tokens file. Nothing is sent anywhere.
 */
import type { Flags } from '../../services/common/config';
import { hashToken, newToken, ROLES, type Role } from '../../services/common/auth/tokens';
import { UsageError } from './usage';

export function tokenCommand(args: string[], flags: Flags): number {
  if (args[0] !== 'new' || args.length !== 1) throw new UsageError('usage: casparian token new --role client|worker [--name NAME]');
  const role = flags.role;
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role must be ${ROLES.join(' or ')}`);
  const name = typeof flags.name === 'string' ? flags.name : '';
  if (/\s|#/.test(name)) throw new UsageError('--name may not contain spaces or "#"');
  const token = newToken();
  const line = `${role as Role} ${hashToken(token)}${name ? ` ${name}` : ''}`;
  if (flags.json) process.stdout.write(`${JSON.stringify({ role, name, token, line })}\n`);
  else process.stdout.write(`token: ${token}\n(shown once; give it to the ${role}: --token or CASPARIAN_TOKEN)\nadd this line to the Sentinel's --auth-tokens file:\n${line}\n`);
  return 0;
}
