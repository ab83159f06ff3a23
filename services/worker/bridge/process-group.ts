/**
 * Killing a guest's whole process group. The guest is spawned detached, so
 * its pid is also its process group id, and anything the plugin starts
 * (subprocesses, multiprocessing workers) is in the same group.
 */

import * as fs from 'node:fs';

const POLL_MS = 25;
/** How long to wait for the group to vanish after SIGKILL before giving up. */
const AFTER_KILL_MS = 3000;

/** Whether any process of the group still exists. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Send a signal to the group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether the group has a member that is not a zombie. kill(-pgid, 0) also
 * counts zombies, and the grandchildren of a dead guest are reaped by PID 1,
 * which in a container may take its time; on Linux /proc tells them apart.
 */
export function groupRunning(pgid: number): boolean {
  if (!groupAlive(pgid)) return false;
  if (process.platform !== 'linux') return true;
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp ..." — comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
  }
  return false;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitGone(pgid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (groupRunning(pgid)) {
    if (Date.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
  return true;
}

export type TerminateResult = 'already-gone' | 'terminated' | 'killed' | 'stuck';

/**
 * SIGTERM the group, wait up to `graceMs` for it to vanish, then SIGKILL.
 * 'stuck' means processes remained even after SIGKILL (uninterruptible sleep);
 * the caller should log it. Zombies do not count as remaining.
 */
export async function terminateGroup(pgid: number, graceMs: number): Promise<TerminateResult> {
  if (!Number.isInteger(pgid) || pgid <= 1) throw new RangeError(`refusing to signal process group ${pgid}`);
  if (!signalGroup(pgid, 'SIGTERM')) return 'already-gone';
  if (await waitGone(pgid, graceMs)) return 'terminated';
  signalGroup(pgid, 'SIGKILL');
  return (await waitGone(pgid, AFTER_KILL_MS)) ? 'killed' : 'stuck';
}
