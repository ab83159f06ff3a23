/**
 * The rows' references run by the peers in the reference venv: the plain
 * pyarrow ones must work (a failure fails the row), Ray's may be skipped with
 * the reason why (not installed, not startable, crashed).
 */
import * as path from 'node:path';
import { PeerError, runPeer } from './python';
import type { BenchContext, Row } from './types';

export type PeerResult<T> = { ok: true; value: T } | { ok: false; skipped: string };

/** A pyarrow peer (bench/peers/SCRIPT); throws when it fails. */
export function pyPeer<T>(ctx: BenchContext, script: string, args: string[], timeoutMs = 1_800_000): Promise<T> {
  return runPeer<T>({ python: ctx.peers.python, script, args, root: ctx.root, logFile: path.join(ctx.work, 'logs', 'peers.log'), timeoutMs });
}

/** bench/peers/ray_peers.py ARGS, or why Ray's reference is skipped. */
export async function rayPeer<T>(ctx: BenchContext, args: string[], timeoutMs = 1_800_000): Promise<PeerResult<T>> {
  if (ctx.peers.raySkipped) return { ok: false, skipped: ctx.peers.raySkipped };
  try {
    const r = await pyPeer<T & { skipped?: string }>(ctx, 'ray_peers.py', args, timeoutMs);
    return r.skipped ? { ok: false, skipped: r.skipped } : { ok: true, value: r };
  } catch (e) {
    if (e instanceof PeerError) return { ok: false, skipped: `the Ray peer failed: ${e.message}` };
    throw e;
  }
}

/** The reference fields of a row from a peer's result. */
export function refOf<T>(r: PeerResult<T>, pick: (v: T) => number): Pick<Row, 'reference' | 'refMissing'> {
  return r.ok ? { reference: pick(r.value) } : { refMissing: `skipped: ${r.skipped}` };
}
