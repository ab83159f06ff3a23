/**
 * A staging area: the outputs of one job attempt on disk while the worker
 * streams them, converted to Parquet once the verdict is in (seal) and made
 * visible with one directory rename (publish). Created by OutputStore.stage().
 *
 * Staging area lifecycle (a small state machine, guarded by StateMachine):
 *
 *     open ──seal()──► sealing ──► sealed ──publish()──► publishing ──► published
 *                         │          ▲                        │
 *                         └─► failed └── the rename failed ───┘
 *     open, sealing, sealed, failed ──discard()──► discarded   (discard is idempotent;
 *     a no-op once publishing has begun)
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { JobErrors, JobFailure } from '../../common/job-error';
import { IllegalStateError, StateMachine, type Transitions } from '../../common/state-machine';
import { IpcFormatError } from './ipc-messages';
import { ConversionError, convertIpcFileToParquet, type ConvertOptions, type FieldInfo } from './parquet-convert';

export const OUTPUT_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

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

/** What a staging area tells its store. */
export interface StagingHooks {
  released(): void;
  published(finalDir: string): void;
}

export class Staging implements StagingArea {
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
