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

/** A number flag (decimals allowed), or `def` when absent. */
export function numFlag(f: Flags, k: string, def: number): number {
  const v = strFlag(f, k);
  if (v === undefined) return def;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`--${k} must be a non-negative number, got "${v}"`);
  return n;
}

/** --backoff-initial-ms, --backoff-multiplier and --backoff-max-ms as a RetryBackoff (0 = inherit). */
export function backoffFlags(f: Flags): { initialMs: number; multiplier: number; maxMs: number } {
  return { initialMs: intFlag(f, 'backoff-initial-ms', 0), multiplier: numFlag(f, 'backoff-multiplier', 0), maxMs: intFlag(f, 'backoff-max-ms', 0) };
}
