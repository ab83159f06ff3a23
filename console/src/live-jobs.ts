/**
 * The jobs list kept live: WatchJobs is opened first, and once the server has
 * accepted it the list is loaded with ListJobs, so no change falls between
 * the two. Each job is kept at its latest known version (by updated_at, so a
 * list answer that raced an event never undoes it). A cut stream is reopened
 * after a pause, with the list loaded again; a batch watch ends by itself
 * once every job of the batch is final.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { call } from './api/client';
import { isAbort } from './api/errors';
import { stream } from './api/sse';
import type { Job, JobCounts, JobStateName } from './api/types';

export interface JobFilter {
  state?: JobStateName;
  plugin?: string;
  batch?: string;
}

export type LiveStatus = { kind: 'connecting' } | { kind: 'live' } | { kind: 'ended' } | { kind: 'retrying'; error: unknown };

export interface LiveJobs {
  jobs: Job[];
  counts: JobCounts | undefined;
  status: LiveStatus;
  listError: unknown;
  nextPageToken: string;
  loadMore: () => void;
  reload: () => void;
}

const RETRY_MS = 2_000;
const PAGE = 100;

function stamp(j: Job): number {
  const t = j.updatedAt ? Date.parse(j.updatedAt) : NaN;
  return Number.isNaN(t) ? 0 : t;
}

function matches(j: Job, f: JobFilter): boolean {
  return (!f.state || j.state === f.state) && (!f.plugin || j.pluginName === f.plugin) && (!f.batch || j.batchId === f.batch);
}

function newestFirst(a: Job, b: Job): number {
  return (b.createdAt ?? '').localeCompare(a.createdAt ?? '') || b.id.localeCompare(a.id);
}

export function useLiveJobs(filter: JobFilter): LiveJobs {
  const [jobs, setJobs] = useState<Map<string, Job>>(new Map());
  const [counts, setCounts] = useState<JobCounts | undefined>(undefined);
  const [status, setStatus] = useState<LiveStatus>({ kind: 'connecting' });
  const [listError, setListError] = useState<unknown>(null);
  const [nextPageToken, setNextPageToken] = useState('');
  const [generation, setGeneration] = useState(0);
  const signalRef = useRef<AbortSignal | undefined>(undefined);
  const key = JSON.stringify(filter);

  const merge = (incoming: Job[], fromList: boolean): void =>
    setJobs((prev) => {
      const next = new Map(prev);
      for (const j of incoming) {
        const old = next.get(j.id);
        if (old && stamp(old) > stamp(j)) continue;
        if (old && fromList && stamp(old) === stamp(j)) continue;
        if (matches(j, filter)) next.set(j.id, j);
        else next.delete(j.id);
      }
      return next;
    });

  const list = async (pageToken: string, signal: AbortSignal): Promise<void> => {
    try {
      const res = await call('ListJobs', { state: filter.state, pluginName: filter.plugin, batchId: filter.batch, pageSize: PAGE, pageToken }, signal);
      merge(res.jobs ?? [], true);
      setNextPageToken(res.nextPageToken ?? '');
      setListError(null);
    } catch (err) {
      if (!signal.aborted && !isAbort(err)) setListError(err);
    }
  };

  useEffect(() => {
    const ac = new AbortController();
    signalRef.current = ac.signal;
    setJobs(new Map());
    setCounts(undefined);
    setNextPageToken('');
    // One stream: by batch if given, else by plugin, else every job (the other filters apply here).
    const req = filter.batch ? { batchId: filter.batch } : filter.plugin ? { pluginName: filter.plugin } : {};
    (async () => {
      while (!ac.signal.aborted) {
        setStatus({ kind: 'connecting' });
        try {
          await stream(
            'WatchJobs',
            req,
            (msg) => {
              if (msg.counts) setCounts(msg.counts);
              if (msg.job) merge([msg.job], false);
            },
            {
              signal: ac.signal,
              onOpen: () => {
                setStatus({ kind: 'live' });
                void list('', ac.signal);
              },
            },
          );
          setStatus({ kind: 'ended' });
          return;
        } catch (err) {
          if (ac.signal.aborted || isAbort(err)) return;
          setStatus({ kind: 'retrying', error: err });
          // Without a stream, still show the jobs as the list has them.
          await list('', ac.signal);
          await new Promise((r) => setTimeout(r, RETRY_MS));
        }
      }
    })();
    return () => ac.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, generation]);

  return {
    jobs: [...jobs.values()].sort(newestFirst),
    counts,
    status,
    listError,
    nextPageToken,
    loadMore: () => signalRef.current && nextPageToken && void list(nextPageToken, signalRef.current),
    reload: () => setGeneration((g) => g + 1),
  };
}
