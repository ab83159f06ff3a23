/**
 * The free-space floor of the Sentinel's data dir (--min-free-bytes): below
 * it the scheduler dispatches nothing, so that attempts do not run only to
 * fail at commit with SINK_FULL; queued jobs say why (GetJob), and so does
 * ListWorkers (`casparian workers`). Checked at every tick.
 */
import * as fs from 'node:fs/promises';

export interface DiskFloor {
  dir: string;
  minFreeBytes: number;
}

const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

/** Why dispatch is paused for lack of space, or '' when there is enough (or the floor is 0). */
export async function belowFloor(floor: DiskFloor): Promise<string> {
  if (floor.minFreeBytes <= 0) return '';
  try {
    const s = await fs.statfs(floor.dir);
    const free = s.bavail * s.bsize;
    if (free >= floor.minFreeBytes) return '';
    return `dispatch paused: the data dir ${floor.dir} has ${mb(free)} free, below --min-free-bytes (${mb(floor.minFreeBytes)}); free space to resume`;
  } catch (e) {
    return `dispatch paused: cannot read the free space of the data dir ${floor.dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
}
