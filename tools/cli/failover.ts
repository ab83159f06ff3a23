/**
 * How the CLI's SentinelClient (client.ts) uses several Sentinel addresses
 * (`--sentinel A,B,…`, replicas that each serve the whole API over one
 * store). The rules:
 *
 *  1. A call goes to the current address: the first one, until an address
 *     fails; then the one that last answered.
 *  2. Nothing is sent before the address's channel has connected. An address
 *     whose connection fails (refused, reset, TLS refused) is passed over at
 *     once; one still connecting gets its share of the timeout (the timeout
 *     divided by the number of addresses). Nothing reached a Sentinel there,
 *     so every call, whatever it does, moves on to the next address.
 *  3. A call that was sent and fails with UNAVAILABLE may have reached a
 *     Sentinel (its replica died while answering). It is sent again to the
 *     next address only if repeating it is harmless ("repeatable"): reads,
 *     a submit with an idempotency key (the key names the job for good),
 *     publishing (identical content is answered with the stored version),
 *     pausing and resuming a plugin, a purge --dry-run. Others (a submit
 *     without a key, cancel, retry, purge, scan) fail with the error and the
 *     address, so that the user can look before trying again.
 *  4. Any other answer (NOT_FOUND, INVALID_ARGUMENT…) is the Sentinel's word
 *     and is returned at once.
 *  5. When no address takes the call, the error is UNAVAILABLE and names
 *     every address and what happened there.
 *
 * Streams wait for a connection (firstConnected) as long as the timeout, as
 * they always did, going round the addresses. WatchJob and WatchJobs are
 * reads: one that breaks with UNAVAILABLE is opened again on the next
 * address that connects (resumable) and starts over from the job's or the
 * batch's current state, so an event may be seen twice (never missed, except
 * by a plugin-wide WatchJobs, which has no starting state). Other streams
 * (Query, FetchOutput, SubmitScan) are not resumed: their bytes or their
 * side effects would be repeated.
 */
import { status } from '@grpc/grpc-js';
import type { AddressRing } from '../../services/common/address-ring';

/** Whether an address's channel connected; if not, why. */
export type Reach = { ok: true } | { ok: false; why: string };

/** What failover needs: the ring of addresses, a way to reach one, and time (seams for tests). */
export interface Endpoints {
  readonly ring: AddressRing;
  /** Resolves once `address`'s channel is connected, or has failed to connect, or `deadline` (epoch ms) has passed. */
  reach(address: string, deadline: number): Promise<Reach>;
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** A gRPC error as grpc-js makes them (the CLI prints `code: details`). */
export type CallError = Error & { code: number; details: string };

export function isUnavailable(err: unknown): err is CallError {
  return (err as { code?: unknown } | undefined)?.code === status.UNAVAILABLE;
}

/** UNAVAILABLE, naming every address tried and what happened there. */
export function unreachable(tried: { address: string; why: string }[], withinMs?: number): CallError {
  const within = withinMs === undefined ? '' : ` (tried for ${Math.round(withinMs / 1000)} s)`;
  const details =
    tried.length === 1
      ? `cannot reach the Sentinel at ${tried[0].address}${within}: ${tried[0].why}`
      : `cannot reach the Sentinel at any of ${tried.map((t) => t.address).join(', ')}${within}: ${tried.map((t) => `${t.address}: ${t.why}`).join('; ')}`;
  return Object.assign(new Error(`${status.UNAVAILABLE} UNAVAILABLE: ${details}`), { code: status.UNAVAILABLE, details });
}

type Tried = { address: string; why: string }[];

/**
 * `call` on the first address that connects, the current one first (rules
 * 1-5 above); `deadline` is the whole call's. The address that answered,
 * with a result or an error of its own, becomes current.
 */
export async function onFirstReachable<T>(
  e: Endpoints,
  o: { timeoutMs: number; repeatable: boolean },
  call: (address: string, deadline: number) => Promise<T>,
): Promise<T> {
  const r = await round(e, o, call);
  if ('tried' in r) throw unreachable(r.tried);
  return r.value;
}

/** Each address once, as onFirstReachable says; what the call gave, or what happened at each address. */
async function round<T>(
  e: Endpoints,
  o: { timeoutMs: number; repeatable: boolean },
  call: (address: string, deadline: number) => Promise<T>,
): Promise<{ value: T } | { tried: Tried }> {
  const deadline = e.now() + o.timeoutMs;
  const share = o.timeoutMs / e.ring.addresses.length;
  const tried: Tried = [];
  for (const address of e.ring.order()) {
    const reach = await e.reach(address, Math.min(deadline, e.now() + share));
    if (!reach.ok) {
      tried.push({ address, why: reach.why });
      e.ring.passOver(address);
      continue;
    }
    try {
      const value = await call(address, deadline);
      e.ring.settle(address);
      return { value };
    } catch (err) {
      if (!isUnavailable(err)) {
        e.ring.settle(address);
        throw err;
      }
      e.ring.passOver(address);
      if (!o.repeatable) throw e.ring.addresses.length > 1 ? notRepeated(err, address) : err;
      tried.push({ address, why: err.details || err.message });
    }
  }
  return { tried };
}

function notRepeated(err: CallError, address: string): CallError {
  err.details = `${err.details} (at ${address}; not sent to another address, as ${address} may have carried it out)`;
  return err;
}

/**
 * The first address whose channel connects, going round the addresses
 * (pausing `pauseMs` after each round) until `timeoutMs` have passed. It
 * becomes current.
 */
export async function firstConnected(e: Endpoints, timeoutMs: number, pauseMs = 250): Promise<string> {
  const deadline = e.now() + timeoutMs;
  for (;;) {
    const r = await round(e, { timeoutMs: Math.max(0, deadline - e.now()), repeatable: true }, async (address) => address);
    if ('value' in r) return r.value;
    if (e.now() + pauseMs >= deadline) throw unreachable(r.tried, timeoutMs);
    await e.sleep(pauseMs);
  }
}

/** A server stream as grpc-js gives it. */
export type ServerStream<T> = AsyncIterable<T> & { cancel(): void };

/**
 * The messages of a read-only server stream, opened on the first address
 * that connects and opened again, on the next one, whenever it breaks with
 * UNAVAILABLE. Gives up when no address connects within `timeoutMs`, or when
 * the stream has broken on every address in turn without a message between.
 */
export async function* resumable<T>(e: Endpoints, timeoutMs: number, open: (address: string) => ServerStream<T>): AsyncGenerator<T> {
  let address = await firstConnected(e, timeoutMs);
  let breaks = 0;
  for (;;) {
    const stream = open(address);
    try {
      for await (const m of stream) {
        breaks = 0;
        yield m;
      }
      return;
    } catch (err) {
      if (!isUnavailable(err) || ++breaks > e.ring.addresses.length) throw err;
      e.ring.passOver(address);
    } finally {
      stream.cancel();
    }
    address = await firstConnected(e, timeoutMs);
  }
}
