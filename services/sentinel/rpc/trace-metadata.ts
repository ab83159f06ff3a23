/**
 * The W3C `traceparent` of an incoming call's metadata, validated
 * (common/trace-context.ts). Absent, repeated or invalid: undefined, and the
 * job is submitted without a trace context; an invalid value is logged at
 * debug level, never refused (the spec's "restart the trace").
 */
import type { Metadata } from '@grpc/grpc-js';
import type { Logger } from '../../common/logger';
import { parseTraceparent } from '../../common/trace-context';

const HEADER = 'traceparent';

export function incomingTraceparent(md: Metadata, logger: Logger): string | undefined {
  const values = md.get(HEADER);
  if (values.length === 0) return undefined;
  if (values.length > 1) {
    logger.debug('traceparent ignored: sent more than once; the job gets no trace context', { values: values.length });
    return undefined;
  }
  const value = typeof values[0] === 'string' ? values[0].trim() : '';
  const parsed = parseTraceparent(value);
  if (parsed.ok) return parsed.trace.traceparent;
  logger.debug('traceparent ignored: invalid; the job gets no trace context', { problem: parsed.problem, value: value.slice(0, 128) });
  return undefined;
}
