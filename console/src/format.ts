/** Display helpers: states, times, sizes. */
import type { Int64, JobStateName } from './api/types';

/** JOB_STATE_DEAD_LETTER → DEAD_LETTER. */
export function stateLabel(s: string | undefined): string {
  return (s ?? 'JOB_STATE_UNSPECIFIED').replace(/^JOB_STATE_/, '');
}

export const FINAL: readonly JobStateName[] = ['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED', 'JOB_STATE_DEAD_LETTER'];
export const CANCELLABLE: readonly JobStateName[] = ['JOB_STATE_QUEUED', 'JOB_STATE_DISPATCHED', 'JOB_STATE_RUNNING'];
export const RETRYABLE: readonly JobStateName[] = ['JOB_STATE_FAILED', 'JOB_STATE_CANCELLED', 'JOB_STATE_DEAD_LETTER'];

export function num(v: Int64 | undefined): number {
  return v === undefined ? 0 : Number(v);
}

export function bytes(v: Int64 | undefined): string {
  let n = num(v);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${u === 0 ? n : n.toFixed(1)} ${units[u]}`;
}

export function time(ts: string | undefined): string {
  if (!ts) return '';
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? ts : d.toLocaleString(undefined, { hour12: false });
}

export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Milliseconds from `a` to `b` (RFC 3339 strings), or NaN. */
export function between(a: string | undefined, b: string | undefined): number {
  if (!a || !b) return NaN;
  return new Date(b).getTime() - new Date(a).getTime();
}

export function ago(ts: string | undefined, now = Date.now()): string {
  if (!ts) return 'never';
  const ms = now - new Date(ts).getTime();
  return ms < 1000 ? 'just now' : `${duration(ms)} ago`;
}

export function short(hash: string | undefined, n = 12): string {
  return hash ? hash.slice(0, n) : '';
}
