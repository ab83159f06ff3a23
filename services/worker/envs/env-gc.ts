/**
 * LRU eviction plan, a pure function. Envs in use are never evicted. Ready
 * linked envs are neither counted nor evicted (they belong to their owner);
 * a broken link is removed (only the symlink, never its target). Broken envs
 * go first, then the least recently used until both caps hold. Envs that
 * cannot be evicted (in use) still count toward the caps.
 */
import type { EnvInfo } from './types';

export interface GcLimits {
  maxBytes: number;
  maxCount: number;
}

export function planGc(envs: EnvInfo[], limits: GcLimits): { evict: EnvInfo[]; keep: EnvInfo[] } {
  const counted = envs.filter((e) => e.backend !== 'linked');
  let bytes = counted.reduce((s, e) => s + (e.sizeBytes ?? 0), 0);
  let count = counted.length;
  const evictable = envs
    .filter((e) => e.inUse === 0 && (e.backend !== 'linked' || e.status === 'broken'))
    .sort((a, b) => {
      if (a.status !== b.status) return a.status === 'broken' ? -1 : 1;
      return lastUse(a) - lastUse(b) || a.envHash.localeCompare(b.envHash);
    });
  const evict: EnvInfo[] = [];
  for (const e of evictable) {
    if (e.status === 'ready' && bytes <= limits.maxBytes && count <= limits.maxCount) break;
    evict.push(e);
    if (e.backend !== 'linked') {
      bytes -= e.sizeBytes ?? 0;
      count -= 1;
    }
  }
  const gone = new Set(evict.map((e) => e.envHash));
  return { evict, keep: envs.filter((e) => !gone.has(e.envHash)) };
}

function lastUse(e: EnvInfo): number {
  const t = Date.parse(e.lastUsedAt ?? e.createdAt ?? '');
  return Number.isNaN(t) ? 0 : t;
}
