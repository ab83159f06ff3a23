/**
 * Looking at processes from the test side, through /proc (Linux): whether a
 * pid runs, who is in a process group, and which processes belong to a test
 * cluster's temp root.
 */
import * as fs from 'node:fs';

export interface ProcInfo {
  pid: number;
  pgid: number;
  cmdline: string;
}

/** The state letter and the fields after it of /proc/PID/stat, or undefined when the pid is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid pgrp ..." — comm may contain spaces and parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Whether a pid exists and is not a zombie. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const fields = statFields(pid);
  return fields !== undefined && fields[0] !== 'Z' && fields[0] !== 'X';
}

/** A live (non-zombie) process: its group and command line. */
export function procInfo(pid: number): ProcInfo | undefined {
  const fields = statFields(pid);
  if (!fields || fields[0] === 'Z' || fields[0] === 'X') return undefined;
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return { pid, pgid: Number(fields[2]), cmdline };
  } catch {
    return undefined;
  }
}

function livePids(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => pid !== process.pid);
}

/** Live (non-zombie) members of process group `pgid`, children and grandchildren included. */
export function groupMembers(pgid: number): ProcInfo[] {
  return livePids().flatMap((pid) => {
    const info = procInfo(pid);
    return info && info.pgid === pgid ? [info] : [];
  });
}

/** Live (non-zombie) processes whose cwd, command line or environment mention `dir`. */
export function processesUnder(dir: string): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const pid of livePids()) {
    let hit = false;
    try {
      hit = fs.readlinkSync(`/proc/${pid}/cwd`).startsWith(dir);
    } catch {
      /* gone or not ours */
    }
    if (!hit) {
      try {
        hit = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir) || fs.readFileSync(`/proc/${pid}/environ`, 'utf8').includes(dir);
      } catch {
        /* gone or not ours */
      }
    }
    const info = hit ? procInfo(pid) : undefined;
    if (info) out.push(info);
  }
  return out;
}

/** Whether a process is a guest: a spawned bridge_shim.py, or a child forked by a fork server (it leads its own group; the server does not). */
export function isGuest(p: ProcInfo): boolean {
  return p.cmdline.includes('bridge_shim.py') || (p.cmdline.includes('fork_server.py') && p.pgid === p.pid);
}

/** Fork servers (not their children): they share their worker's process group. */
export function isForkServer(p: ProcInfo): boolean {
  return p.cmdline.includes('fork_server.py') && p.pgid !== p.pid;
}

/** Guests (spawned or forked) started for workers under `dir`. */
export function guestProcessesUnder(dir: string): ProcInfo[] {
  return processesUnder(dir).filter(isGuest);
}

/** SIGKILL each group and pid (whatever is already gone is skipped). */
export function killAll(procs: ProcInfo[]): void {
  const groups = new Set(procs.map((s) => s.pgid).filter((g) => g > 1 && g !== process.pid));
  for (const g of groups) {
    try {
      process.kill(-g, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const s of procs) {
    try {
      process.kill(s.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
