/**
 * The Sentinel's output store: stages the outputs of one job attempt on disk while
 * the worker streams them, converts them to Parquet once the attempt's verdict is
 * in, and publishes them with one directory rename.
 *
 * Layout under the data directory:
 *
 *     staging/{jobId}.attempt-{n}.{pid}-{random}/   one per attempt being received
 *         {output}.arrows                          raw IPC stream bytes as received
 *         {output}.parquet                         written by seal()
 *     outputs/{jobId}/attempt-{n}/                 committed (published) attempts
 *         {output}.parquet
 *
 * Staging area lifecycle (a small state machine, guarded by StateMachine):
 *
 *     open ──seal()──► sealing ──► sealed ──publish()──► publishing ──► published
 *                         │          ▲                        │
 *                         └─► failed └── the rename failed ───┘
 *     open, sealing, sealed, failed ──discard()──► discarded   (discard is idempotent;
 *     a no-op once publishing has begun)
 *
 * Atomicity: publish() is a rename of a fully written, fsynced directory, so a
 * committed attempt directory is either complete or absent. The DB rows that
 * reference it are written by the caller afterwards; if that fails the caller
 * calls `unpublish(dir)`, and if the process dies in between, the startup
 * `cleanup()` removes committed directories no DB row references.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { JobErrors, JobFailure } from '../../common/job-error';
import { IllegalStateError, StateMachine, type Transitions } from '../../common/state-machine';
import { DEFAULT_IPC_LIMITS, IpcFormatError, IpcLimits } from './ipc-messages';
import {
  ConversionError,
  ConvertOptions,
  FieldInfo,
  ParquetCodec,
  convertIpcFileToParquet,
  parquetToIpcMessages,
} from './parquet-convert';

export const OUTPUT_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** Job ids become directory names, so they obey the same rule as output names. */
const JOB_ID_RE = OUTPUT_NAME_RE;
export const DEFAULT_MAX_CHUNK = 1024 * 1024;

export interface StagedOutput {
  name: string;
  rows: number;
  /** Size of the Parquet file on disk. */
  sizeBytes: number;
  parquetPath: string;
  schema: FieldInfo[];
}

export interface StagingArea {
  readonly dir: string;
  /**
   * Append bytes of output `name` (kept on disk as `${name}.arrows`, not in
   * memory). Calls are applied in call order. Resolves once the bytes are written,
   * which is the caller's backpressure. Throws JobFailure protocol/INVALID_OUTPUT
   * for a bad output name or too many outputs.
   */
  append(name: string, bytes: Uint8Array): Promise<void>;
  /**
   * Validate each output's IPC stream and convert it to Parquet in the staging dir.
   * Throws JobFailure protocol/INVALID_OUTPUT naming the output when its bytes are
   * not a complete, valid Arrow IPC stream. No outputs at all is valid: [].
   */
  seal(): Promise<StagedOutput[]>;
  /**
   * Rename the sealed staging dir to `${dataDir}/outputs/${jobId}/attempt-${attempt}`
   * and return that dir and the outputs with their final paths.
   */
  publish(): Promise<{ dir: string; outputs: StagedOutput[] }>;
  /** Throw the staged data away. Idempotent; a no-op once published. */
  discard(): Promise<void>;
}

export interface OutputStoreOptions {
  /** Most distinct outputs one attempt may write. */
  maxOutputsPerAttempt?: number;
  /** Limits applied while walking IPC streams. */
  ipcLimits?: IpcLimits;
  /** Parquet codec for committed outputs (default snappy; falls back if the wasm build lacks it). */
  codec?: ParquetCodec;
}

type StagingState = 'open' | 'sealing' | 'sealed' | 'publishing' | 'published' | 'failed' | 'discarded';

const STAGING_TRANSITIONS: Transitions<StagingState> = {
  open: ['sealing', 'discarded'],
  sealing: ['sealed', 'failed', 'discarded'],
  sealed: ['publishing', 'discarded'],
  publishing: ['published', 'sealed'],
  published: [],
  failed: ['discarded'],
  discarded: [],
};

function invalidOutput(message: string): JobFailure {
  return new JobFailure(JobErrors.invalidOutput(message));
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } catch (err) {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL' && (err as NodeJS.ErrnoException).code !== 'EISDIR') throw err;
  } finally {
    await fh.close();
  }
}

async function listDir(dir: string): Promise<import('node:fs').Dirent[]> {
  try {
    return await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

export class OutputStore {
  readonly dataDir: string;
  readonly stagingRoot: string;
  readonly outputsRoot: string;
  private readonly maxOutputs: number;
  private readonly ipcLimits: IpcLimits;
  private readonly codec: ParquetCodec;
  /** Staging dirs in use by this process (cleanup leaves them alone). */
  private readonly active = new Set<string>();
  /** Dirs published by this process whose DB rows may still be on their way. */
  private readonly published = new Set<string>();

  constructor(dataDir: string, options: OutputStoreOptions = {}) {
    this.dataDir = path.resolve(dataDir);
    this.stagingRoot = path.join(this.dataDir, 'staging');
    this.outputsRoot = path.join(this.dataDir, 'outputs');
    this.maxOutputs = options.maxOutputsPerAttempt ?? 256;
    this.ipcLimits = options.ipcLimits ?? DEFAULT_IPC_LIMITS;
    this.codec = options.codec ?? 'snappy';
  }

  /** The committed directory of an attempt. */
  attemptDir(jobId: string, attempt: number): string {
    return path.join(this.outputsRoot, jobId, `attempt-${attempt}`);
  }

  /** Start staging one attempt. */
  stage(jobId: string, attempt: number): StagingArea {
    if (!JOB_ID_RE.test(jobId)) throw new TypeError(`job id ${JSON.stringify(jobId)} cannot name a directory`);
    if (!Number.isSafeInteger(attempt) || attempt < 0) throw new TypeError(`bad attempt number ${attempt}`);
    const dir = path.join(
      this.stagingRoot,
      `${jobId}.attempt-${attempt}.${process.pid}-${crypto.randomBytes(6).toString('hex')}`,
    );
    this.active.add(dir);
    return new Staging(dir, this.attemptDir(jobId, attempt), this.maxOutputs, { limits: this.ipcLimits, codec: this.codec }, {
      released: () => this.active.delete(dir),
      published: (finalDir) => this.published.add(finalDir),
    });
  }

  /**
   * Remove staging dirs not in use by this process (left by a previous one) and
   * committed attempt dirs that are not in `referencedDirs` and were not
   * published by this process. Meant for startup, before work is accepted.
   */
  async cleanup(referencedDirs: Set<string>): Promise<{ removed: string[] }> {
    const keep = new Set<string>([...referencedDirs].map((d) => path.resolve(d)));
    for (const d of this.published) keep.add(d);
    const removed: string[] = [];
    for (const entry of await listDir(this.stagingRoot)) {
      const p = path.join(this.stagingRoot, entry.name);
      if (this.active.has(p)) continue;
      await fs.rm(p, { recursive: true, force: true });
      removed.push(p);
    }
    for (const job of await listDir(this.outputsRoot)) {
      if (!job.isDirectory()) continue;
      const jobDir = path.join(this.outputsRoot, job.name);
      let kept = 0;
      for (const attempt of await listDir(jobDir)) {
        const p = path.join(jobDir, attempt.name);
        if (keep.has(p)) {
          kept++;
          continue;
        }
        await fs.rm(p, { recursive: true, force: true });
        removed.push(p);
      }
      if (kept === 0) await fs.rmdir(jobDir).catch(() => undefined);
    }
    return { removed };
  }

  /** Remove a dir returned by publish() whose DB rows could not be written. */
  async unpublish(dir: string): Promise<void> {
    const resolved = this.insideOutputs(dir);
    this.published.delete(resolved);
    await fs.rm(resolved, { recursive: true, force: true });
    await fs.rmdir(path.dirname(resolved)).catch(() => undefined); // the job dir, if now empty
  }

  /**
   * Stream a committed Parquet file back as one uncompressed Arrow IPC stream,
   * in chunks of at most `maxChunk` bytes (a large message spans several chunks).
   */
  async *readAsIpc(parquetPath: string, maxChunk: number = DEFAULT_MAX_CHUNK): AsyncGenerator<Uint8Array> {
    if (!Number.isSafeInteger(maxChunk) || maxChunk < 8) throw new RangeError(`bad maxChunk ${maxChunk}`);
    const resolved = path.resolve(parquetPath);
    if (!resolved.startsWith(this.dataDir + path.sep)) {
      throw new Error(`refusing to read ${parquetPath}: outside the data directory`);
    }
    let cur = new Uint8Array(maxChunk);
    let curLen = 0;
    for await (const message of parquetToIpcMessages(resolved)) {
      let at = 0;
      while (at < message.byteLength) {
        if (curLen === 0 && message.byteLength - at >= maxChunk) {
          yield message.subarray(at, at + maxChunk);
          at += maxChunk;
          continue;
        }
        const n = Math.min(maxChunk - curLen, message.byteLength - at);
        cur.set(message.subarray(at, at + n), curLen);
        curLen += n;
        at += n;
        if (curLen === maxChunk) {
          yield cur;
          cur = new Uint8Array(maxChunk);
          curLen = 0;
        }
      }
    }
    if (curLen > 0) yield cur.subarray(0, curLen);
  }

  private insideOutputs(dir: string): string {
    const resolved = path.resolve(dir);
    if (!resolved.startsWith(this.outputsRoot + path.sep)) {
      throw new Error(`refusing to remove ${dir}: not a committed output dir`);
    }
    return resolved;
  }
}

interface StagingHooks {
  released(): void;
  published(finalDir: string): void;
}

class Staging implements StagingArea {
  private readonly fsm = new StateMachine<StagingState>('staging area', 'open', STAGING_TRANSITIONS);
  private readonly files = new Map<string, fs.FileHandle>();
  private tail: Promise<unknown> = Promise.resolve();
  private created: Promise<void> | undefined;
  private staged: StagedOutput[] = [];
  private filesClosed = false;

  constructor(
    readonly dir: string,
    private readonly finalDir: string,
    private readonly maxOutputs: number,
    private readonly convertOptions: ConvertOptions,
    private readonly hooks: StagingHooks,
  ) {}

  append(name: string, bytes: Uint8Array): Promise<void> {
    if (!this.fsm.is('open')) return Promise.reject(new IllegalStateError('staging area', this.fsm.state, 'append'));
    if (!OUTPUT_NAME_RE.test(name)) {
      return Promise.reject(
        invalidOutput(`invalid output name ${JSON.stringify(name.slice(0, 200))}: must match ${OUTPUT_NAME_RE}`),
      );
    }
    if (!this.files.has(name) && this.files.size >= this.maxOutputs) {
      return Promise.reject(invalidOutput(`too many outputs: at most ${this.maxOutputs} per attempt`));
    }
    // Reserve the name synchronously so concurrent first appends share one file.
    const opening = this.files.has(name) ? undefined : this.openOutput(name);
    opening?.catch(() => undefined); // awaited (and reported) by `run` below
    const run = this.tail.then(async () => {
      if (opening) await opening;
      this.fsm.require('append', 'open');
      const fh = this.files.get(name)!;
      let at = 0;
      while (at < bytes.byteLength) {
        const { bytesWritten } = await fh.write(bytes, at, bytes.byteLength - at);
        at += bytesWritten;
      }
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  async seal(): Promise<StagedOutput[]> {
    this.fsm.require('seal', 'open');
    this.fsm.to('sealing');
    try {
      await this.tail;
      await this.closeFiles(true);
      const names = [...this.files.keys()].sort();
      const out: StagedOutput[] = [];
      for (const name of names) {
        const ipcPath = path.join(this.dir, `${name}.arrows`);
        const parquetPath = path.join(this.dir, `${name}.parquet`);
        let result;
        try {
          result = await convertIpcFileToParquet(ipcPath, parquetPath, this.convertOptions);
        } catch (err) {
          if (err instanceof IpcFormatError) {
            throw invalidOutput(`output ${JSON.stringify(name)} is not a valid Arrow IPC stream: ${err.message}`);
          }
          if (err instanceof ConversionError) throw invalidOutput(`output ${JSON.stringify(name)} ${err.message}`);
          throw err;
        }
        await fs.rm(ipcPath);
        out.push({ name, rows: result.rows, sizeBytes: result.parquetBytes, parquetPath, schema: result.schema });
      }
      if (names.length > 0) await fsyncDir(this.dir);
      this.staged = out;
      this.fsm.to('sealed'); // throws if it was discarded meanwhile
      return out.map((o) => ({ ...o, schema: [...o.schema] }));
    } catch (err) {
      if (this.fsm.is('sealing')) this.fsm.to('failed');
      throw err;
    }
  }

  async publish(): Promise<{ dir: string; outputs: StagedOutput[] }> {
    this.fsm.require('publish', 'sealed');
    this.fsm.to('publishing');
    try {
      await this.ensureDir(); // an attempt without outputs still publishes an (empty) dir
      const parent = path.dirname(this.finalDir);
      await fs.mkdir(parent, { recursive: true });
      // rename() replaces an empty target dir on POSIX; refuse to overwrite any commit.
      if (await fs.stat(this.finalDir).then(() => true, () => false)) {
        throw new Error(`attempt already committed at ${this.finalDir}`);
      }
      await fs.rename(this.dir, this.finalDir);
      await fsyncDir(parent);
    } catch (err) {
      this.fsm.to('sealed');
      throw err;
    }
    this.fsm.to('published');
    this.hooks.published(this.finalDir);
    this.hooks.released();
    const outputs = this.staged.map((o) => ({
      ...o,
      schema: [...o.schema],
      parquetPath: path.join(this.finalDir, path.basename(o.parquetPath)),
    }));
    return { dir: this.finalDir, outputs };
  }

  async discard(): Promise<void> {
    if (this.fsm.is('publishing', 'published', 'discarded')) return;
    this.fsm.to('discarded');
    await this.tail;
    await this.closeFiles(false);
    await fs.rm(this.dir, { recursive: true, force: true });
    this.hooks.released();
  }

  private ensureDir(): Promise<void> {
    this.created ??= fs.mkdir(this.dir, { recursive: true }).then(() => undefined);
    return this.created;
  }

  private async openOutput(name: string): Promise<void> {
    const pending = (async () => {
      await this.ensureDir();
      return fs.open(path.join(this.dir, `${name}.arrows`), 'wx');
    })();
    // Placeholder until the handle exists; appends wait on `opening` before using it.
    this.files.set(name, undefined as unknown as fs.FileHandle);
    try {
      this.files.set(name, await pending);
    } catch (err) {
      this.files.delete(name);
      throw err;
    }
  }

  private async closeFiles(sync: boolean): Promise<void> {
    if (this.filesClosed) return;
    this.filesClosed = true;
    for (const fh of this.files.values()) {
      if (!fh) continue;
      try {
        if (sync) await fh.sync();
      } finally {
        await fh.close().catch(() => undefined);
      }
    }
  }
}
