/**
 * One service of a bench cluster as a real process: `node [--cpu-prof …]
 * dist/tools/casparian.js sentinel|worker FLAGS`, in a process group of its
 * own, output appended to a log file. Every process started here is killed
 * when the bench exits, however it exits (reaper.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Flags } from '../../services/common/config';
import { reapOnExit } from './reaper';

/** The tests' free-port helper (the bench and the tests pick ports the same way). */
export { freePort } from '../../test/helpers/free-port';

export function flagArgs(flags: Flags): string[] {
  return Object.entries(flags).flatMap(([k, v]) => (v === undefined || v === false ? [] : v === true ? [`--${k}`] : [`--${k}=${v}`]));
}

/** This process's environment without CASPARIAN_* settings (but the python), JSON logs. */
function serviceEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CASPARIAN_LOG_FORMAT: 'json' };
  for (const k of Object.keys(env)) if (k.startsWith('CASPARIAN_') && !['CASPARIAN_LOG_FORMAT', 'CASPARIAN_PYTHON'].includes(k)) delete env[k];
  return env;
}

export interface ServiceSpec {
  name: string;
  command: 'sentinel' | 'worker';
  flags: Flags;
  cli: string;
  logFile: string;
  /** Write a CPU profile (node --cpu-prof) into this directory when the process exits. */
  profileDir?: string;
}

export class ServiceProc {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  private done = false;

  constructor(readonly spec: ServiceSpec) {
    fs.mkdirSync(path.dirname(spec.logFile), { recursive: true });
    const prof = spec.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${spec.profileDir}`, `--cpu-prof-name=${spec.name}.cpuprofile`] : [];
    const fd = fs.openSync(spec.logFile, 'a');
    try {
      this.child = spawn(process.execPath, [...prof, spec.cli, spec.command, ...flagArgs(spec.flags)], { env: serviceEnv(), detached: true, stdio: ['ignore', fd, fd] });
    } finally {
      fs.closeSync(fd);
    }
    const unreap = reapOnExit(this.child.pid!);
    this.exited = new Promise((resolve) => {
      const end = (): void => {
        this.done = true;
        unreap();
        resolve();
      };
      this.child.once('exit', end);
      this.child.once('error', end);
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return !this.done;
  }

  tail(lines = 20): string {
    try {
      return fs.readFileSync(this.spec.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  killGroup(): void {
    if (!this.alive) return;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }

  /** SIGTERM (the service drains and exits, writing its profile), then SIGKILL of its group after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.exited, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    if (this.alive) {
      this.killGroup();
      await this.exited;
    }
  }
}
