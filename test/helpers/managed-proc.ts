/**
 * One service process of a test: `node dist/tools/casparian.js ARGS…`, started
 * in a process group of its own (detached) with its output appended to a log
 * file, so that tests can signal it, kill -9 it and read its log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './python-env';

export const CLI = path.join(REPO_ROOT, 'dist', 'tools', 'casparian.js');

export interface ProcExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export { freePort } from './free-port';

export class ManagedProc {
  readonly child: ChildProcess;
  readonly exited: Promise<ProcExit>;
  exit: ProcExit | undefined;

  constructor(
    readonly name: string,
    readonly logFile: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    cwd: string,
  ) {
    const fd = fs.openSync(logFile, 'a');
    try {
      this.child = spawn(process.execPath, [CLI, ...args], { cwd, env, detached: true, stdio: ['ignore', fd, fd] });
    } finally {
      fs.closeSync(fd);
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      this.child.once('error', () => {
        this.exit ??= { code: null, signal: null };
        resolve(this.exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  /** Signal the process (not its group: a worker's guests have groups of their own). */
  signal(sig: NodeJS.Signals): void {
    if (this.alive) process.kill(this.pid, sig);
  }

  /** kill -9 and wait until the process is reaped. */
  async kill9(): Promise<void> {
    if (!this.alive) return;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      this.signal('SIGKILL');
    }
    await this.exited;
  }

  async waitExit(timeoutMs: number): Promise<ProcExit> {
    let timer: NodeJS.Timeout | undefined;
    const t = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.name} (pid ${this.pid}) did not exit within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, t]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether the log has a line containing `text`. */
  logged(text: string): boolean {
    try {
      return fs.readFileSync(this.logFile, 'utf8').includes(text);
    } catch {
      return false;
    }
  }

  tail(lines = 40): string {
    try {
      const text = fs.readFileSync(this.logFile, 'utf8').trimEnd().split('\n');
      return text.slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}
