/** Loading data for a page: a unary call re-run when its inputs change, or on demand, or every `pollMs`. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { isAbort } from './api/errors';

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[], pollMs = 0): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    const ac = new AbortController();
    setLoading(true);
    loadRef
      .current(ac.signal)
      .then((d) => {
        setData(d);
        setError(null);
      })
      .catch((e) => !isAbort(e) && !ac.signal.aborted && setError(e))
      .finally(() => !ac.signal.aborted && setLoading(false));
    const timer = pollMs ? setTimeout(() => setTick((t) => t + 1), pollMs) : undefined;
    return () => {
      ac.abort();
      clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}
