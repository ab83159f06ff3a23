/**
 * The fork server's control protocol (docs/bridge-protocol.md, "Fork
 * server"): frames in the bridge's format ([kind u8][length u32 BE][payload])
 * over the server's stdin (worker → server) and stdout (server → worker).
 * Kinds 0x4_ travel worker → server, 0x5_ server → worker. JSON payloads,
 * except STDOUT/STDERR: the child's pid (u32 BE) then the raw bytes.
 */
import { FrameError, decodeJsonPayload, encodeJsonFrame, type Frame } from './frames';
import type { GuestExit } from './guest-handle';

export const ForkKind = {
  /** `{id, cwd, env, reuse}`: fork a child that becomes a guest for one job (reuse: then waits for RUN). */
  FORK: 0x41,
  /** `{id, pid, cwd, env}`: hand reusable child `pid` its next job. */
  RUN: 0x42,
  /** `{pid, python_version, pyarrow_version, threads, warm}`: imports done; the first frame. */
  READY: 0x50,
  /** `{id, pid}`: the FORK or RUN `id` was carried out by child `pid`. */
  STARTED: 0x51,
  /** `{id, error}`: the FORK or RUN `id` could not be carried out; nothing was started. */
  FAILED: 0x52,
  /** `{pid, code, signal}`: child `pid` was reaped (code null when killed by `signal`). */
  EXIT: 0x53,
  /** pid u32 + bytes the child wrote to stdout. */
  STDOUT: 0x54,
  /** pid u32 + bytes the child wrote to stderr. */
  STDERR: 0x55,
} as const;

/** Largest frame the worker accepts from a fork server (output relays are at most 64 KiB + 4). */
export const MAX_SERVER_FRAME = 1024 * 1024;

export interface ForkRequest {
  /** The job's private directory: the child's cwd. */
  cwd: string;
  /** The scrubbed per-job environment; the child's os.environ becomes exactly this. */
  env: Record<string, string>;
}

export type ServerMessage =
  | { kind: 'ready'; pid: number; pythonVersion: string; pyarrowVersion: string | null; threads: number }
  | { kind: 'started'; id: number; pid: number }
  | { kind: 'failed'; id: number; error: string }
  | ({ kind: 'exit'; pid: number } & GuestExit)
  | { kind: 'output'; stream: 'stdout' | 'stderr'; pid: number; bytes: Buffer };

export function forkFrame(id: number, req: ForkRequest, reuse: boolean): Buffer {
  return encodeJsonFrame(ForkKind.FORK, { id, cwd: req.cwd, env: req.env, reuse });
}

export function runFrame(id: number, pid: number, req: ForkRequest): Buffer {
  return encodeJsonFrame(ForkKind.RUN, { id, pid, cwd: req.cwd, env: req.env });
}

function int(o: Record<string, unknown>, key: string): number {
  const v = o[key];
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw new FrameError(`fork server: ${key} must be a non-negative integer`);
  return v as number;
}

function optString(o: Record<string, unknown>, key: string): string | null {
  const v = o[key];
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') throw new FrameError(`fork server: ${key} must be a string`);
  return v;
}

/** One server frame as a typed message; FrameError for anything malformed (the server is then not trusted any more). */
export function parseServerFrame(frame: Frame): ServerMessage {
  switch (frame.kind) {
    case ForkKind.STDOUT:
    case ForkKind.STDERR:
      if (frame.payload.length < 4) throw new FrameError('fork server: output frame without a pid');
      return {
        kind: 'output',
        stream: frame.kind === ForkKind.STDOUT ? 'stdout' : 'stderr',
        pid: frame.payload.readUInt32BE(0),
        bytes: frame.payload.subarray(4),
      };
    case ForkKind.READY: {
      const o = decodeJsonPayload(frame);
      return { kind: 'ready', pid: int(o, 'pid'), pythonVersion: optString(o, 'python_version') ?? '', pyarrowVersion: optString(o, 'pyarrow_version'), threads: int(o, 'threads') };
    }
    case ForkKind.STARTED: {
      const o = decodeJsonPayload(frame);
      return { kind: 'started', id: int(o, 'id'), pid: int(o, 'pid') };
    }
    case ForkKind.FAILED: {
      const o = decodeJsonPayload(frame);
      return { kind: 'failed', id: int(o, 'id'), error: optString(o, 'error') ?? 'unknown error' };
    }
    case ForkKind.EXIT: {
      const o = decodeJsonPayload(frame);
      const code = o.code === null ? null : int(o, 'code');
      const signal = optString(o, 'signal') as NodeJS.Signals | null;
      if ((code === null) === (signal === null)) throw new FrameError('fork server: EXIT needs exactly one of code and signal');
      return { kind: 'exit', pid: int(o, 'pid'), code, signal };
    }
    default:
      throw new FrameError(`fork server: unknown frame kind 0x${frame.kind.toString(16)}`);
  }
}
