/**
 * A server interceptor that logs every incoming call at debug level: its
 * method, peer and request metadata (user agent, `traceparent`, …). The
 * `authorization` header is censored by the logger's redaction
 * (log-redaction.ts), so a bearer token never reaches the log; calls the
 * auth guard refuses are logged too when this interceptor runs first.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from './logger';

export function callLogInterceptor(logger: Logger): grpc.ServerInterceptor {
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (md, pass) => {
            logger.debug('rpc call', { method: method.path, peer: call.getPeer(), metadata: md.toJSON() });
            pass(md);
          },
        });
      },
    });
}
