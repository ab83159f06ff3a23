/**
 * Running the bench's Python peers (bench/peers/*.py): a child process in a
 * group of its own (killed whole on timeout, Ray's helpers included), stderr
 * to a log file, and the JSON object it prints last on stdout as the result.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { reapOnExit } from './reaper';

export class PeerError extends Error {}

export interface PeerRun {
  python: string;
  /** Script path, relative to bench/peers/. */
  script: string;
  args: string[];
  /** Repository root. */
  root: string;
  /** stderr goes here (appended). */
  logFile: string;
  timeoutMs: number;
}

/** Runs a peer and returns its result object (which may be `{ skipped: why }`). */
export function runPeer<T>(run: PeerRun): Promise<T> {
  const script = path.join(run.root, 'bench', 'peers', run.script);
  fs.mkdirSync(path.dirname(run.logFile), { recursive: true });
  const log = fs.openSync(run.logFile, 'a');
  fs.writeSync(log, `\n$ ${run.python} ${script} ${run.args.join(' ')}\n`);
  return new Promise<T>((resolve, reject) => {
    const child = spawn(run.python, [script, ...run.args], { detached: true, stdio: ['ignore', 'pipe', log] });
    fs.closeSync(log);
    const unreap = child.pid !== undefined ? reapOnExit(child.pid) : () => true;
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, run.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      unreap();
      reject(new PeerError(`${run.script}: ${e.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      unreap();
      try {
        process.kill(-child.pid!, 'SIGKILL'); // whatever the peer left in its group (Ray's helpers)
      } catch {
        /* none left */
      }
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) {
        const why = signal === 'SIGKILL' ? `killed after ${run.timeoutMs / 1000} s` : `exit ${code ?? signal}`;
        return reject(new PeerError(`${run.script} ${run.args.join(' ')}: ${why} (stderr in ${run.logFile})`));
      }
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new PeerError(`${run.script}: no JSON result on its last line: ${last.slice(0, 200)}`));
      }
    });
  });
}
