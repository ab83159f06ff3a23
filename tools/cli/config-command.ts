/** `casparian config print [sentinel|worker|client]`: the effective configuration, secrets redacted; starts nothing. */
import type * as Yaml from 'yaml';
import { configFileName, effectiveConfig, type Flags, type Service } from '../../services/common/config';
import { UsageError, strFlag } from './usage';

const USAGE = 'usage: casparian config print [sentinel|worker|client] [--config FILE] [--format json|yaml] [the service\'s flags]';
const SERVICES: readonly Service[] = ['sentinel', 'worker', 'client'];

export function configCommand(args: string[], flags: Flags, env: Record<string, string | undefined>): number {
  const [sub, ...which] = args;
  if (sub !== 'print') throw new UsageError(USAGE);
  for (const s of which) if (!SERVICES.includes(s as Service)) throw new UsageError(`unknown service "${s}"\n${USAGE}`);
  const format = strFlag(flags, 'format') ?? 'json';
  if (format !== 'json' && format !== 'yaml') throw new UsageError(`--format must be json or yaml for config print, got "${format}"`);
  const services = (which.length ? which : ['sentinel', 'worker']) as Service[];
  const view: Record<string, unknown> = { configFile: configFileName(flags, env) ?? null };
  for (const s of services) view[s] = effectiveConfig(flags, env, s);
  process.stdout.write(format === 'yaml' ? (require('yaml') as typeof Yaml).stringify(view) : `${JSON.stringify(view, null, 2)}\n`);
  return 0;
}
