/**
 * Who may call what, checked by a grpc-js server interceptor before any
 * handler runs (unary and streaming alike):
 *
 *  - each method has a role: the Sentinel's Dispatch and Conclude need a
 *    worker; every other method of a guarded service needs a client;
 *  - a caller proves a role with `authorization: Bearer TOKEN` (a token of
 *    that role in the TokenStore), or, for the worker role only, with a
 *    verified client certificate (mTLS) whose subject CN is on
 *    `workerCertNames`;
 *  - no credentials, or an unknown or expired token: UNAUTHENTICATED; a
 *    valid token of the other role: PERMISSION_DENIED. Messages never quote
 *    the token.
 *
 * Health and reflection are not guarded: probes and `grpcurl list` need them,
 * and they reveal no data.
 */
import * as grpc from '@grpc/grpc-js';
import type { Role, TokenStore } from './tokens';

export interface GuardOptions {
  tokens: TokenStore;
  /** Subject CNs of client certificates that may act as workers (mTLS). */
  workerCertNames: readonly string[];
  /** Full method paths ("/pkg.Service/Method") that need the worker role. */
  workerMethods: readonly string[];
  /** Services whose methods are guarded ("pkg.Service"); others pass. */
  guardedServices: readonly string[];
  /** The clock tokens expire by; default Date.now. */
  now?: () => number;
}

export interface Denial {
  code: grpc.status;
  details: string;
}

function bearer(md: grpc.Metadata): string | undefined {
  const v = md.get('authorization')[0];
  if (typeof v !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(v);
  return m ? m[1] : '';
}

/** Why a call to `path` with this metadata and peer certificate CN is refused; undefined when it may go on. */
export function checkCall(o: GuardOptions, path: string, md: grpc.Metadata, certName: string | undefined): Denial | undefined {
  const service = path.split('/')[1] ?? '';
  if (!o.guardedServices.includes(service)) return undefined;
  const needs: Role = o.workerMethods.includes(path) ? 'worker' : 'client';
  const method = path.split('/')[2] ?? path;
  if (needs === 'worker' && certName !== undefined && o.workerCertNames.includes(certName)) return undefined;
  const token = bearer(md);
  if (token === undefined) {
    return { code: grpc.status.UNAUTHENTICATED, details: `${method} needs a ${needs} token: send "authorization: Bearer TOKEN" (casparian: --token or CASPARIAN_TOKEN)` };
  }
  const entry = token ? o.tokens.lookup(token) : undefined;
  if (!entry) return { code: grpc.status.UNAUTHENTICATED, details: 'the token is not valid (malformed, unknown or revoked)' };
  if (entry.expiresAt !== undefined && (o.now ?? Date.now)() >= entry.expiresAt) {
    return {
      code: grpc.status.UNAUTHENTICATED,
      details: `the token "${entry.name}" expired at ${new Date(entry.expiresAt).toISOString()}: make a new one (casparian token create) and delete the old line`,
    };
  }
  if (entry.role !== needs) {
    return { code: grpc.status.PERMISSION_DENIED, details: `${method} needs a ${needs} token; "${entry.name}" holds a ${entry.role} token` };
  }
  return undefined;
}

/** The subject CN of a verified client certificate, if the call came over mTLS with one. */
function peerCertName(call: grpc.ServerInterceptingCallInterface): string | undefined {
  const cert = call.getAuthContext().sslPeerCertificate;
  const cn = cert?.subject?.CN;
  return typeof cn === 'string' && cn ? cn : undefined;
}

/** The interceptor that applies checkCall to every call of the server. */
export function authInterceptor(o: GuardOptions): grpc.ServerInterceptor {
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (md, pass) => {
            const denial = checkCall(o, method.path, md, peerCertName(call));
            if (denial) call.sendStatus({ code: denial.code, details: denial.details, metadata: new grpc.Metadata() });
            else pass(md);
          },
        });
      },
    });
}

/** A client interceptor that sends `authorization: Bearer TOKEN` with every call. */
export function tokenInterceptor(token: string): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start: (md, listener, next) => {
        md.set('authorization', `Bearer ${token}`);
        next(md, listener);
      },
    });
}
