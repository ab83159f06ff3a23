import type { BackoffPolicy } from '../../common/config';

/**
 * When the next attempt may run after attempt `attempt` (1-based) failed:
 * initialMs × multiplier^(attempt-1), capped at maxMs, with ±jitter/2 of it
 * randomised. `rand` returns a number in [0, 1).
 */
export function nextRunAt(attempt: number, now: number, policy: BackoffPolicy, rand: () => number = Math.random): number {
  const exp = Math.max(0, attempt - 1);
  const base = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.multiplier, exp));
  const jitter = base * policy.jitter * (rand() - 0.5);
  return Math.round(now + Math.max(0, Math.min(policy.maxMs, base + jitter)));
}
