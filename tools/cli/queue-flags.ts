/**
 * --priority and --not-before, shared by the commands that submit jobs.
 * A negative priority is written `--priority=-5` (a value starting with a
 * dash needs the `=` form).
 */
import type { Flags } from '../../services/common/config';
import { parseDuration } from './purge-command';
import { strFlag, UsageError } from './usage';

const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;
const RELATIVE = /^\+?\d+[smhd]$/;

/** --priority N: an integer (int32), higher runs first; 0 when absent. */
export function priorityFlag(f: Flags): number {
  const v = strFlag(f, 'priority');
  if (v === undefined) return 0;
  const n = Number(v.trim());
  if (!/^[+-]?\d+$/.test(v.trim()) || n < -(2 ** 31) || n > 2 ** 31 - 1) {
    throw new UsageError(`--priority must be an integer between -2147483648 and 2147483647 (negative as --priority=-5), got "${v}"`);
  }
  return n;
}

/**
 * --not-before TIME: an ISO-8601 time (`2030-01-02T03:04:05Z`; without a
 * zone, local time; a bare date is midnight UTC) or a duration from now
 * (`+10m`, `30s`, `2h`, `1d`). Undefined when absent.
 */
export function notBeforeFlag(f: Flags, now: number = Date.now()): Date | undefined {
  const v = strFlag(f, 'not-before');
  if (v === undefined) return undefined;
  const text = v.trim();
  if (RELATIVE.test(text)) return new Date(now + 1000 * parseDuration(text.replace(/^\+/, ''), '--not-before'));
  const t = ISO_8601.test(text) ? Date.parse(text.replace(' ', 'T')) : NaN;
  if (!Number.isFinite(t)) {
    throw new UsageError(`--not-before wants an ISO-8601 time (2030-01-02T03:04:05Z) or a duration from now (+10m, 30s, 2h, 1d); got "${v}"`);
  }
  return new Date(t);
}
