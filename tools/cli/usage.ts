/** Command-line parsing helpers shared by the CLI's commands. Usage errors exit 2. */
import type { Flags } from '../../services/common/config';

export class UsageError extends Error {}

export function strFlag(f: Flags, k: string): string | undefined {
  return typeof f[k] === 'string' ? (f[k] as string) : undefined;
}

/** A non-negative integer flag, or `def` when absent; anything else is a usage error naming the flag. */
export function intFlag(f: Flags, k: string, def: number): number {
  const v = strFlag(f, k);
  if (v === undefined) return def;
  if (!/^\d+$/.test(v.trim())) throw new UsageError(`--${k} must be a non-negative integer, got "${v}"`);
  return Number(v);
}
