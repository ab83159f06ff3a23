/** Polling for tests: one waitFor for every helper and test. */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Thrown from a waitFor condition to stop waiting at once. */
export class Fatal extends Error {}

/**
 * Poll `cond` every `everyMs` until it returns something truthy (returned) or
 * `timeoutMs` passes (throws, naming `what` and the condition's last error).
 * Errors thrown by `cond` count as "not yet", except Fatal, which ends the wait.
 */
export async function waitFor<T>(what: string, cond: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (e) {
      if (e instanceof Fatal) throw e;
      lastErr = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${(lastErr as Error).message})` : ''}`);
    await sleep(everyMs);
  }
}
