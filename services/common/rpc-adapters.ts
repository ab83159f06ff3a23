/**
 * Adapters from plain async functions to grpc-js handlers. Handlers stay
 * testable without a server; the adapter calls the grpc-js callback exactly
 * once and maps errors through toServiceError.
 */
import type { sendUnaryData, ServerDuplexStream, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import type { Logger } from './logger';
import { toServiceError } from './rpc-error';

export function unary<Req, Res>(
  logger: Logger,
  method: string,
  fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>,
): (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void {
  return (call, cb) => {
    let done = false;
    const finish = (err: unknown, res?: Res): void => {
      if (done) return;
      done = true;
      if (err) cb(toServiceError(err, logger, method) as never);
      else cb(null, res);
    };
    fn(call.request, call).then(
      (res) => finish(null, res),
      (err) => finish(err ?? new Error('rejected without a reason')),
    );
  };
}

/** A writer that waits for 'drain' when the stream's buffer is full. Rejects if the call is cancelled. */
export function backpressuredWriter<T>(call: ServerWritableStream<unknown, T>): (msg: T) => Promise<void> {
  return (msg: T) =>
    new Promise<void>((resolve, reject) => {
      if (call.cancelled) return reject(new Error('call cancelled'));
      const ok = call.write(msg);
      if (ok) return resolve();
      const onDrain = (): void => {
        call.off('cancelled', onCancel);
        resolve();
      };
      const onCancel = (): void => {
        call.off('drain', onDrain);
        reject(new Error('call cancelled'));
      };
      call.once('drain', onDrain);
      call.once('cancelled', onCancel);
    });
}

export function serverStream<Req, Res>(
  logger: Logger,
  method: string,
  fn: (req: Req, write: (msg: Res) => Promise<void>, call: ServerWritableStream<Req, Res>) => Promise<void>,
): (call: ServerWritableStream<Req, Res>) => void {
  return (call) => {
    const write = backpressuredWriter(call as ServerWritableStream<unknown, Res>);
    fn(call.request, write, call).then(
      () => {
        if (!call.cancelled) call.end();
      },
      (err) => failCall(call, err, logger, method),
    );
  };
}

/**
 * End a streaming call with the status for `err`. grpc-js streams turn an
 * emitted 'error' into the call's status (destroy() would drop the status).
 */
export function failCall(call: ServerWritableStream<any, any> | ServerDuplexStream<any, any>, err: unknown, logger: Logger, method: string): void {
  if (call.cancelled) return;
  const se = toServiceError(err, logger, method);
  call.emit('error', Object.assign(new Error(se.details), se));
}

/**
 * Iterate a call's incoming messages with backpressure. Leaving the loop early
 * (return or throw) does not destroy the call, so failCall() can still send a
 * status afterwards.
 */
export function messagesOf<T>(call: NodeJS.ReadableStream & { iterator?: unknown }): AsyncIterable<T> {
  return (call as unknown as { iterator(o: { destroyOnReturn: boolean }): AsyncIterable<T> }).iterator({ destroyOnReturn: false });
}
