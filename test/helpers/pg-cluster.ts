/**
 * A private PostgreSQL cluster in a temporary directory: initdb once, then
 * start and stop on one port and data dir as often as a test needs.
 *
 * Running as root: PostgreSQL refuses to, so every program runs as the
 * `postgres` user (`runuser -u postgres -- …`), and the temporary directory
 * (data dir, socket dir, log) is chowned to that user with mode 0700.
 *
 * States: running -> stopped -> running … ; either -> disposed (server stopped,
 * directory removed), after which every call throws.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { freePort } from './free-port';
import type { PgBinaries } from './pg-binaries';
import { OWNER_FILE, PG_DIR_PREFIX } from './pg-leftovers';
import { waitFor } from './wait';

/** The superuser initdb creates; every connection uses it (trust auth, loopback only). */
export const PG_SUPERUSER = 'postgres';

export type PgClusterState = 'running' | 'stopped' | 'disposed';

/** The unprivileged OS user the programs run as when this process is root. */
interface RunAs {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

interface RunResult {
  code: number | null;
  output: string;
}

export class LocalPgCluster {
  #state: PgClusterState = 'stopped';

  private constructor(
    readonly binaries: PgBinaries,
    /** The temporary directory that holds everything: data/, the socket, server.log. */
    readonly baseDir: string,
    readonly port: number,
    private readonly runAs: RunAs | undefined,
  ) {}

  get state(): PgClusterState {
    return this.#state;
  }

  private set state(next: PgClusterState) {
    this.assertUsable(`go to ${next}`);
    this.#state = next;
  }

  private assertUsable(what: string): void {
    if (this.#state === 'disposed') throw new Error(`test PostgreSQL: cannot ${what}, the cluster is disposed (the test run has ended)`);
  }

  private get dataDir(): string {
    return path.join(this.baseDir, 'data');
  }

  private get logFile(): string {
    return path.join(this.baseDir, 'server.log');
  }

  /** Makes the directory, runs initdb and starts the server on a free loopback port. */
  static async create(binaries: PgBinaries): Promise<LocalPgCluster> {
    const runAs = process.getuid?.() === 0 ? unprivilegedUser() : undefined;
    const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), PG_DIR_PREFIX));
    let cluster: LocalPgCluster | undefined;
    try {
      fs.writeFileSync(path.join(baseDir, OWNER_FILE), `${process.pid}\n`);
      if (runAs) {
        for (const p of [baseDir, path.join(baseDir, OWNER_FILE)]) fs.chownSync(p, runAs.uid, runAs.gid);
      }
      fs.chmodSync(baseDir, 0o700);
      const usable = runAs ? binariesFor(runAs, binaries, baseDir) : binaries;
      cluster = new LocalPgCluster(usable, baseDir, await freePort(), runAs);
      await cluster.initdb();
      await cluster.start();
      return cluster;
    } catch (e) {
      if (cluster) cluster.disposeSync();
      else fs.rmSync(baseDir, { recursive: true, force: true });
      throw e;
    }
  }

  /** Starts the server (no-op when running) and waits until it accepts connections. */
  async start(): Promise<void> {
    this.assertUsable('start');
    if (this.state === 'running') return;
    // fsync and friends off: commits get much faster, and what is lost is only
    // lost if the machine itself crashes (a killed postgres leaves its writes
    // in the OS's page cache), which a test's data need not survive.
    const serverOptions = [
      `-p ${this.port}`,
      '-h 127.0.0.1',
      `-k '${this.baseDir}'`,
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=300',
    ].join(' ');
    const r = await this.pgCtl(['-D', this.dataDir, '-l', this.logFile, '-o', serverOptions, '-w', '-t', '60', 'start']);
    if (r.code !== 0) throw this.failure(`pg_ctl start exited with ${r.code}`, r.output);
    this.state = 'running';
    try {
      await waitFor(`the test PostgreSQL on port ${this.port} to accept connections`, () => this.ping(), 10_000, 100);
    } catch (e) {
      throw this.failure((e as Error).message);
    }
  }

  /**
   * Stops the server in fast mode (open connections are cut), falling back to
   * immediate mode. A postmaster.pid left by a start that failed half-way counts
   * as running.
   */
  async stop(): Promise<void> {
    this.assertUsable('stop');
    if (this.state === 'stopped' && !this.hasPidFile()) return;
    const fast = await this.pgCtl(['-D', this.dataDir, '-m', 'fast', '-w', '-t', '30', 'stop']);
    if (fast.code !== 0) {
      const immediate = await this.pgCtl(['-D', this.dataDir, '-m', 'immediate', '-w', '-t', '30', 'stop']);
      if (immediate.code !== 0) throw this.failure('pg_ctl stop failed in fast and immediate mode', `${fast.output}\n${immediate.output}`);
    }
    this.state = 'stopped';
  }

  /** Stops the server if it runs and removes the directory. Idempotent. */
  async dispose(): Promise<void> {
    if (this.state === 'disposed') return;
    try {
      await this.stop();
    } finally {
      this.removeDir();
    }
  }

  /** The same as dispose, synchronously, for process.on('exit'): stop -m immediate, then remove. */
  disposeSync(): void {
    if (this.state === 'disposed') return;
    if (this.hasPidFile()) {
      const [file, args] = this.command('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', '-t', '10', 'stop']);
      spawnSync(file, args, { cwd: this.baseDir, stdio: 'ignore', timeout: 15_000 });
    }
    this.removeDir();
  }

  private hasPidFile(): boolean {
    return fs.existsSync(path.join(this.dataDir, 'postmaster.pid'));
  }

  private removeDir(): void {
    this.#state = 'disposed';
    fs.rmSync(this.baseDir, { recursive: true, force: true });
  }

  private async initdb(): Promise<void> {
    // --no-sync: nothing is flushed to disk, which saves most of initdb's time.
    // Locale C: text sorts by bytes, as SQLite's default collation does.
    const r = await this.run('initdb', ['-D', this.dataDir, '-U', PG_SUPERUSER, '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync']);
    if (r.code !== 0) {
      const hint = this.binaries.source === 'npm' ? ' (npm binaries: the package\'s postinstall must have made its library symlinks; see allowScripts in package.json)' : '';
      throw new Error(`test PostgreSQL: initdb (${this.binaries.binDir}) exited with ${r.code}${hint}:\n${tail(r.output)}`);
    }
  }

  private async ping(): Promise<boolean> {
    const client = new Client({ host: '127.0.0.1', port: this.port, user: PG_SUPERUSER, database: 'postgres', connectionTimeoutMillis: 2_000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('select 1');
      return true;
    } finally {
      await client.end().catch(() => {});
    }
  }

  private pgCtl(args: string[]): Promise<RunResult> {
    return this.run('pg_ctl', args);
  }

  /** [file, args] running a program of the bin dir, as the unprivileged user when root. */
  private command(program: string, args: string[]): [string, string[]] {
    const file = path.join(this.binaries.binDir, program);
    return this.runAs ? ['runuser', ['-u', this.runAs.name, '--', file, ...args]] : [file, args];
  }

  /** Runs a program to its end, with stdout and stderr together. Its cwd is the base dir, which the user can enter. */
  private run(program: string, args: string[]): Promise<RunResult> {
    const [file, fullArgs] = this.command(program, args);
    return new Promise((resolve) => {
      const child = spawn(file, fullArgs, { cwd: this.baseDir, stdio: ['ignore', 'pipe', 'pipe'] });
      const chunks: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      child.stderr.on('data', (c: Buffer) => chunks.push(c));
      child.once('error', (e) => resolve({ code: null, output: `could not run ${file}: ${e.message}` }));
      child.once('close', (code) => resolve({ code, output: Buffer.concat(chunks).toString('utf8') }));
    });
  }

  /** An error naming what failed, with the command's output and the tail of the server log. */
  private failure(what: string, output = ''): Error {
    let log = '';
    try {
      log = fs.readFileSync(this.logFile, 'utf8');
    } catch {
      log = '(no server log)';
    }
    const parts = [`test PostgreSQL (${this.binaries.binDir}, port ${this.port}, ${this.baseDir}): ${what}`];
    if (output.trim()) parts.push(`output:\n${tail(output)}`);
    parts.push(`server log (tail):\n${tail(log)}`);
    return new Error(parts.join('\n'));
  }
}

/** The last lines of a program's output or of a log. */
function tail(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Binaries that `runAs` can run. A package under a directory closed to that
 * user (a checkout in /root, say) is copied into the base dir: its native/
 * holds bin, lib and share, and postgres finds lib and share from its own path.
 */
function binariesFor(runAs: RunAs, binaries: PgBinaries, baseDir: string): PgBinaries {
  const postgres = path.join(binaries.binDir, 'postgres');
  if (spawnSync('runuser', ['-u', runAs.name, '--', 'test', '-x', postgres], { stdio: 'ignore' }).status === 0) return binaries;
  if (binaries.source !== 'npm') {
    throw new Error(`test PostgreSQL: the user '${runAs.name}' cannot run ${postgres} (a directory on its path is closed to it)`);
  }
  const copy = path.join(baseDir, 'native');
  fs.cpSync(path.dirname(binaries.binDir), copy, { recursive: true, verbatimSymlinks: true });
  return { source: 'npm', binDir: path.join(copy, 'bin') };
}

/** The `postgres` OS user, or an error saying why root cannot run the server without it. */
function unprivilegedUser(): RunAs {
  const name = 'postgres';
  const id = (flag: string): number => {
    const r = spawnSync('id', [flag, name], { encoding: 'utf8' });
    const n = Number(r.stdout?.trim());
    if (r.status !== 0 || !Number.isInteger(n)) {
      throw new Error(
        `test PostgreSQL: this process runs as root, which PostgreSQL refuses, so the server runs as the OS user '${name}', ` +
          `and there is no such user (id ${flag} ${name}: ${(r.stderr || r.error?.message || '').trim()}). ` +
          `Create it (useradd --system --user-group ${name}), run the tests as another user, or set CASPARIAN_TEST_PG_URL.`,
      );
    }
    return n;
  };
  const runAs = { name, uid: id('-u'), gid: id('-g') };
  if (spawnSync('runuser', ['--version'], { stdio: 'ignore' }).status !== 0) {
    throw new Error(`test PostgreSQL: this process runs as root and runs the server as '${name}' with runuser, which is missing (Debian: util-linux)`);
  }
  return runAs;
}
