/**
 * The bridge handshake: the guest's first frame must be a HELLO carrying the
 * run's token (compared in constant time); the worker answers with JOB_SPEC,
 * the only way the plugin's source reaches the guest (never argv or the
 * environment).
 */
import * as crypto from 'node:crypto';
import { FrameError, FrameKind, decodeJsonPayload, encodeJsonFrame, frameKindName, type Frame } from './frames';
import { parseHello, type HelloMessage } from './guest-messages';
import type { BridgeRunSpec } from './types';

/** The guest's HELLO, or FrameError when the frame is not a HELLO or its token is wrong. */
export function checkHello(frame: Frame, token: string): HelloMessage {
  if (frame.kind !== FrameKind.HELLO) throw new FrameError(`first frame must be HELLO, got ${frameKindName(frame.kind)}`);
  const hello = parseHello(decodeJsonPayload(frame));
  const expected = Buffer.from(token);
  const got = Buffer.from(hello.token);
  if (got.length !== expected.length || !crypto.timingSafeEqual(got, expected)) {
    throw new FrameError('HELLO carries a wrong token');
  }
  return hello;
}

export function jobSpecFrame(spec: BridgeRunSpec): Buffer {
  return encodeJsonFrame(FrameKind.JOB_SPEC, {
    job_id: spec.jobId,
    attempt: spec.attempt,
    plugin_name: spec.pluginName,
    plugin_version: spec.pluginVersion,
    source: spec.source,
    input_path: spec.inputPath,
    limits: {
      memory_mb: spec.limits?.memoryMb ?? 0,
      cpu_seconds: spec.limits?.cpuSeconds ?? 0,
      open_files: spec.limits?.openFiles ?? 0,
    },
  });
}
