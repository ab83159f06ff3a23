/**
 * A request that does not decode is the caller's mistake: INVALID_ARGUMENT
 * with the decoder's reason, never grpc-js's INTERNAL "Error deserializing
 * request". The generated decoders throw for bytes that are not the message
 * (a truncated field, a bad wire type) and for 64-bit integers above 2^53-1,
 * which this codebase reads as JavaScript numbers (ts-proto forceLong=number).
 *
 * guardDecoding() wraps a service definition's request decoders so that a
 * failure becomes a DecodeFailure value instead of an exception; the
 * interceptor answers any call that receives one, unary or streaming, before
 * a handler sees it.
 */
import * as grpc from '@grpc/grpc-js';

export class DecodeFailure {
  constructor(readonly reason: string) {}
}

/** The definition with each method's request decoder returning a DecodeFailure instead of throwing. */
export function guardDecoding(definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(definition)) {
    const decode = method.requestDeserialize;
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch (e) {
          return new DecodeFailure((e as Error).message);
        }
      },
    };
  }
  return out;
}

/** Ends a call with INVALID_ARGUMENT when one of its messages did not decode. */
export const decodeFailureInterceptor: grpc.ServerInterceptor = (method, call) =>
  new grpc.ServerInterceptingCall(call, {
    start: (next) => {
      next({
        onReceiveMessage: (message, pass) => {
          if (message instanceof DecodeFailure) {
            call.sendStatus({
              code: grpc.status.INVALID_ARGUMENT,
              details: `the ${method.path.split('/')[2] ?? 'request'} message does not decode: ${message.reason}`,
              metadata: new grpc.Metadata(),
            });
          } else pass(message);
        },
      });
    },
  });
