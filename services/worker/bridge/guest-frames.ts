/**
 * What one guest frame means once the handshake is done: an event for the
 * sink, the guest's own verdict (ERROR or DONE), or nothing to forward.
 * Pure apart from the output bookkeeping it is given; throws FrameError for
 * every protocol violation, so the run can fail it as GUEST_PROTOCOL.
 */
import type { JobError } from '../../common/job-error';
import { FrameError, FrameKind, decodeJsonPayload, type Frame } from './frames';
import {
  parseDone,
  parseGuestError,
  parseLog,
  parseMetrics,
  parseOutputEnd,
  parseOutputName,
  parseProgress,
} from './guest-messages';
import type { OutputTracker } from './output-tracker';
import type { GuestEvent } from './types';

export type FrameMeaning =
  | { kind: 'event'; event: GuestEvent }
  /** A frame with nothing to forward (the continuation of an interleaved output). */
  | { kind: 'nothing' }
  /** The guest's ERROR frame: the run fails with this error. */
  | { kind: 'error'; error: JobError }
  /** The guest's DONE frame, consistent with the outputs it ended. */
  | { kind: 'done' };

/** The meaning of `frame` after HELLO; `frame.kind` must be one of GUEST_KINDS. */
export function interpretFrame(frame: Frame, outputs: OutputTracker): FrameMeaning {
  const event = (e: GuestEvent): FrameMeaning => ({ kind: 'event', event: e });
  switch (frame.kind) {
    case FrameKind.HELLO:
      throw new FrameError('HELLO sent twice');
    case FrameKind.ARROW:
      return event({ kind: 'arrow', name: outputs.arrowTarget(), bytes: frame.payload });
    case FrameKind.OUTPUT_BEGIN: {
      const name = parseOutputName(decodeJsonPayload(frame), 'OUTPUT_BEGIN');
      return outputs.begin(name) ? event({ kind: 'output_begin', name }) : { kind: 'nothing' };
    }
    case FrameKind.OUTPUT_END: {
      const end = parseOutputEnd(decodeJsonPayload(frame));
      outputs.end(end);
      return event({ kind: 'output_end', ...end });
    }
    case FrameKind.LOG:
      return event({ kind: 'log', ...parseLog(decodeJsonPayload(frame)) });
    case FrameKind.PROGRESS:
      return event({ kind: 'progress', ...parseProgress(decodeJsonPayload(frame)) });
    case FrameKind.METRICS:
      return event({ kind: 'metrics', values: parseMetrics(decodeJsonPayload(frame)) });
    case FrameKind.ERROR:
      return { kind: 'error', error: parseGuestError(decodeJsonPayload(frame)) };
    case FrameKind.DONE:
      outputs.checkDone(parseDone(decodeJsonPayload(frame)));
      return { kind: 'done' };
    default:
      return { kind: 'nothing' };
  }
}
