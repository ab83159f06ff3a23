/**
 * The sink between a guest and an attempt's reporter. Arrow bytes are
 * forwarded without decoding, re-chunked so that no chunk exceeds
 * MAX_CHUNK_BYTES (one gRPC message stays near 1 MiB); logs and progress pass
 * through; rows and bytes are counted into the attempt's metrics. Each event
 * resolves only when the reporter has accepted it, so a slow receiver holds
 * the guest back.
 */
import type { BridgeSink, GuestEvent } from '../bridge/types';
import type { AttemptMetricsOut, AttemptReporter } from './types';

export const MAX_CHUNK_BYTES = 1024 * 1024;

export function forwardingSink(
  reporter: AttemptReporter,
  metrics: Pick<AttemptMetricsOut, 'rows' | 'arrowBytes'>,
  /** The input's hash, reported (reporter.source) before the first chunk; undefined = not reported. */
  sourceHash?: Promise<string | undefined>,
): BridgeSink {
  let sourceSent = !sourceHash || !reporter.source;
  return {
    onEvent: async (e: GuestEvent): Promise<void> => {
      switch (e.kind) {
        case 'arrow':
          if (!sourceSent) {
            sourceSent = true;
            const hash = await sourceHash;
            if (hash) await reporter.source!(hash);
          }
          metrics.arrowBytes += e.bytes.length;
          for (let off = 0; off < e.bytes.length; off += MAX_CHUNK_BYTES) {
            await reporter.chunk(e.name, e.bytes.subarray(off, Math.min(e.bytes.length, off + MAX_CHUNK_BYTES)));
          }
          return;
        case 'log':
          return reporter.log(e.level, 'plugin', e.message);
        case 'progress':
          return reporter.progress({ rows: e.rows ?? 0, fraction: e.fraction ?? 0, message: e.message ?? '' });
        case 'output_end':
          metrics.rows += e.rows;
          return;
        default:
          return;
      }
    },
  };
}
