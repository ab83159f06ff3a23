/**
 * Calls to the Sentinel's HTTP API (the Connect protocol's unary shape):
 * `POST /casparian.v1.Sentinel/METHOD` with the request as JSON; 200 carries
 * the response, anything else `{code, message}`. Paths are relative to the
 * page, so the console works under whatever prefix serves it.
 */
import { authHeaders, reportUnauthenticated } from './auth';
import { ApiError, errorFromBody } from './errors';
import type { Methods } from './types';

export const SERVICE_PATH = 'casparian.v1.Sentinel';

export function methodUrl(method: string): string {
  return new URL(`${SERVICE_PATH}/${method}`, document.baseURI).toString();
}

/** Throw the response's error (and report `unauthenticated`) unless it is a 2xx. */
export async function checkResponse(res: Response): Promise<void> {
  if (res.ok) return;
  const err = errorFromBody(res.status, await res.text().catch(() => ''));
  if (err.code === 'unauthenticated') reportUnauthenticated(err.message);
  throw err;
}

export async function call<M extends keyof Methods>(method: M, req: Methods[M][0], signal?: AbortSignal): Promise<Methods[M][1]> {
  let res: Response;
  try {
    res = await fetch(methodUrl(method), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...authHeaders() },
      body: JSON.stringify(req),
      signal,
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw ApiError.from(err);
  }
  await checkResponse(res);
  return (await res.json()) as Methods[M][1];
}
