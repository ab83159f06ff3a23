/** Injected time source: the real clock in production, a fake one in tests. */
export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };
