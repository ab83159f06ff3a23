/**
 * Domain errors that carry their gRPC status, and the single function that
 * turns anything thrown by a handler into a status. Internal details are
 * logged, never sent to the client.
 */
import { status, type ServiceError, Metadata } from '@grpc/grpc-js';
import type { Logger } from './logger';
import { isRefusedValue, isStoreUnavailable } from './store-target';

export class RpcError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

export const invalidArgument = (msg: string): RpcError => new RpcError(status.INVALID_ARGUMENT, msg);
export const notFound = (msg: string): RpcError => new RpcError(status.NOT_FOUND, msg);
export const alreadyExists = (msg: string): RpcError => new RpcError(status.ALREADY_EXISTS, msg);
export const failedPrecondition = (msg: string): RpcError => new RpcError(status.FAILED_PRECONDITION, msg);
export const permissionDenied = (msg: string): RpcError => new RpcError(status.PERMISSION_DENIED, msg);
export const unavailable = (msg: string): RpcError => new RpcError(status.UNAVAILABLE, msg);
export const resourceExhausted = (msg: string): RpcError => new RpcError(status.RESOURCE_EXHAUSTED, msg);

/** Map anything thrown into a ServiceError for grpc-js. Unknown errors become INTERNAL with a generic message. */
export function toServiceError(err: unknown, logger: Logger, method: string): Partial<ServiceError> {
  if (err instanceof RpcError) {
    return { code: err.code, details: err.message, metadata: new Metadata() };
  }
  if (isRefusedValue(err)) {
    return { code: status.INVALID_ARGUMENT, details: `${method}: a value of the request cannot be stored: ${(err as Error).message}`, metadata: new Metadata() };
  }
  if (isStoreUnavailable(err)) {
    // The database is away (restarting, failing over): a retry after it is back can succeed.
    logger.warn('the database is unavailable', { method, error: String((err as Error)?.message ?? err) });
    return { code: status.UNAVAILABLE, details: `the Sentinel's database is unavailable; try again (${method})`, metadata: new Metadata() };
  }
  logger.error('unhandled error in rpc handler', { method, error: String((err as Error)?.stack ?? err) });
  return { code: status.INTERNAL, details: `internal error in ${method}; see the server log`, metadata: new Metadata() };
}
