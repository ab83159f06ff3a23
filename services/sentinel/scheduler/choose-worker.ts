import { freeSlots, hasReadyEnv, type WorkerSession } from './worker-session';

/** Why a job cannot be dispatched right now. */
export type WaitReason = 'no_worker' | 'no_env' | 'draining' | 'unresponsive' | 'busy';

export type Choice = { worker: WorkerSession } | { waiting: WaitReason };

/**
 * Pick a worker for a job needing `envHash`, in order:
 *  1. a free slot on a worker that already has the env;
 *  2. else a free slot on a worker that may provision it;
 *  3. never a strict-mode worker that lacks it, nor a draining or suspect one.
 * Within each group a worker other than `avoid` (the one the job's previous
 * attempt ran on) comes first, then the one with the most free slots.
 * When none fits, say why the job waits.
 */
export function chooseWorker(workers: Iterable<WorkerSession>, envHash: string, avoid?: string): Choice {
  const all = [...workers];
  const canRun = (w: WorkerSession): boolean => hasReadyEnv(w, envHash) || (w.mayProvision && w.envs.get(envHash)?.status !== 'broken');
  const withFree = all.filter((w) => freeSlots(w) > 0);
  const byFree = (a: WorkerSession, b: WorkerSession): number =>
    Number(a.workerId === avoid) - Number(b.workerId === avoid) || freeSlots(b) - freeSlots(a);
  const holders = withFree.filter((w) => hasReadyEnv(w, envHash)).sort(byFree);
  if (holders.length) return { worker: holders[0] };
  const provisioners = withFree.filter(canRun).sort(byFree);
  if (provisioners.length) return { worker: provisioners[0] };

  if (all.length === 0) return { waiting: 'no_worker' };
  const capable = all.filter(canRun);
  if (capable.length === 0) return { waiting: 'no_env' };
  if (capable.every((w) => w.draining)) return { waiting: 'draining' };
  if (capable.every((w) => w.draining || w.suspect)) return { waiting: 'unresponsive' };
  return { waiting: 'busy' };
}

/** The sentence GetJob shows for a wait reason (after "waiting: "). */
export function describeWait(reason: WaitReason, envHash: string): string {
  switch (reason) {
    case 'no_worker':
      return 'no worker connected';
    case 'no_env':
      return `no worker has env ${envHash.slice(0, 12)} and none may provision it`;
    case 'draining':
      return 'every capable worker is draining';
    case 'unresponsive':
      return 'every capable worker is draining or unresponsive (a lease expired without a heartbeat)';
    case 'busy':
      return 'all capable workers are busy';
  }
}
