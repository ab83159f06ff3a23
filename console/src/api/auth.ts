/**
 * The client token: kept in sessionStorage (gone when the tab closes), sent
 * as `Authorization: Bearer TOKEN` on every call. When a call comes back
 * `unauthenticated`, the listeners hear of it (the app shows the token prompt).
 */
const KEY = 'casparian.token';

type Listener = (message: string) => void;
const listeners = new Set<Listener>();

export function token(): string {
  try {
    return sessionStorage.getItem(KEY) ?? '';
  } catch {
    return '';
  }
}

export function setToken(value: string): void {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

export function authHeaders(): Record<string, string> {
  const t = token();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

export function onUnauthenticated(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function reportUnauthenticated(message: string): void {
  for (const l of listeners) l(message);
}
