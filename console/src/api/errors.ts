/**
 * An error of the Sentinel's API as the console shows it: the Connect code
 * ("not_found", "unauthenticated", …) and the server's message. Failures of
 * the network itself are "unavailable", as Connect clients report them.
 */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  /** Anything thrown by a call, as an ApiError. */
  static from(err: unknown): ApiError {
    if (err instanceof ApiError) return err;
    if (err instanceof Error) return new ApiError('unavailable', `cannot reach the Sentinel: ${err.message}`);
    return new ApiError('unknown', String(err));
  }
}

/** An error response's body ({code, message}) as an ApiError; a body of another shape keeps the HTTP status in the message. */
export function errorFromBody(status: number, body: string): ApiError {
  try {
    const v = JSON.parse(body) as { code?: unknown; message?: unknown };
    if (typeof v.code === 'string') return new ApiError(v.code, typeof v.message === 'string' ? v.message : '');
  } catch {
    // not JSON: fall through
  }
  return new ApiError('unknown', `HTTP ${status}${body ? `: ${body.slice(0, 300)}` : ''}`);
}

export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError';
}
