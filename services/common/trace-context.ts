/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the
 * `traceparent` a client sends with a submission is kept on the job, so that
 * every log line about the job, on the Sentinel and on the worker, carries its
 * trace id, and the plugin sees it as TRACEPARENT.
 *
 *     traceparent = version "-" trace-id "-" parent-id "-" trace-flags
 *                   00        32 hex       16 hex        2 hex   (lowercase)
 *
 * An invalid value is not an error: the spec says to restart the trace, and
 * Casparian starts none, so the job simply has no trace context.
 */
import type { LogFields } from './logger';

export interface TraceContext {
  /** The header in version-00 form (a newer version's header is cut to its version-00 fields). */
  traceparent: string;
  traceId: string;
  parentId: string;
  flags: string;
}

export type ParsedTraceparent = { ok: true; trace: TraceContext } | { ok: false; problem: string };

const FIELDS = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})/;
const V00_LENGTH = 55;

export function parseTraceparent(value: string): ParsedTraceparent {
  const m = FIELDS.exec(value);
  if (!m) return { ok: false, problem: 'not version-traceid-parentid-flags in lowercase hex' };
  const [, version, traceId, parentId, flags] = m;
  if (version === 'ff') return { ok: false, problem: 'version ff is invalid' };
  // Version 00 is exactly 55 characters; a later version may append fields after a dash.
  if (version === '00' ? value.length !== V00_LENGTH : value.length > V00_LENGTH && value[V00_LENGTH] !== '-') {
    return { ok: false, problem: `wrong length for version ${version}` };
  }
  if (/^0+$/.test(traceId)) return { ok: false, problem: 'all-zero trace-id' };
  if (/^0+$/.test(parentId)) return { ok: false, problem: 'all-zero parent-id' };
  return { ok: true, trace: { traceparent: `00-${traceId}-${parentId}-${flags}`, traceId, parentId, flags } };
}

/** The log fields of a job's trace context: `trace_id` and `traceparent`; none without one. */
export function traceFields(traceparent: string | null | undefined): LogFields {
  if (!traceparent) return {};
  return { trace_id: traceparent.slice(3, 35), traceparent };
}
