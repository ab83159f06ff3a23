/**
 * The Sentinel's output store: stages the outputs of one job attempt on disk while
 * the worker streams them, converts them to Parquet once the attempt's verdict is
 * in, and publishes them with one directory rename.
 *
 * Layout under its root (the data directory, or the shared --output-root of
 * replicas):
 *
 *     staging/{jobId}.attempt-{n}.{pid}-{random}/   one per attempt being received
 *         {output}.parquet                         written by the output's writer
 *         {output}.arrows                          raw IPC bytes (the wasm fallback stages these)
 *     run/parquet-helper.sock                      the Parquet helper's socket (always in the data dir)
 *     outputs/{jobId}/attempt-{n}/                 committed (published) attempts
 *         {output}.parquet
 *
 * Staging areas (one attempt's outputs while they arrive): staging-area.ts;
 * the writers that turn the bytes into Parquet off the event loop:
 * output-writer.ts. The store owns its writer factory and closes it in close().
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
import { DEFAULT_IPC_LIMITS, type IpcLimits } from './ipc-messages';
import type { OutputWriterFactory, ParquetCodec } from './output-writer';
import { parquetToIpcMessages } from './parquet-convert';
import { Staging, type AttemptRules, type StagingArea } from './staging-area';
import { WasmWriterFactory } from './wasm-writer';

/** Job ids (UUIDs, or a test's names) name directories: no separators, no leading dot. */
const JOB_ID_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
export const DEFAULT_MAX_CHUNK = 1024 * 1024;
/** A staging dir's name: `{jobId}.attempt-{n}.{pid}-{random}`. */
const STAGING_NAME_RE = /^(.+)\.attempt-(\d+)\.[^.]+$/;

export interface OutputStoreOptions {
  /** Most distinct outputs one attempt may write. */
  maxOutputsPerAttempt?: number;
  /** Limits applied while walking IPC streams. */
  ipcLimits?: IpcLimits;
  /** Parquet codec for committed outputs (default snappy; falls back if the wasm build lacks it). */
  codec?: ParquetCodec;
  /** Writes the outputs (default: parquet-wasm on one worker thread). The store closes it. */
  writers?: OutputWriterFactory;
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}

async function listDir(dir: string): Promise<import('node:fs').Dirent[]> {
  try {
    return await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

/**
 * Where committed outputs live, as the Sentinel uses it. LocalOutputStore
 * (below) is a directory: the data dir, or a volume every replica mounts.
 * Another store (an object store) implements the same: stage an attempt
 * where it is received, publish it in one step that is either complete or
 * invisible, read a committed file back, and say which dirs are garbage.
 * docs/scaling.md says how an object store would fit.
 */
export interface OutputStore {
  /** Where committed files are, as DuckDB reads them: a directory today, a URL prefix (s3://…) for an object store. */
  readonly outputsRoot: string;
  /** Start staging one attempt's outputs. */
  stage(jobId: string, attempt: number, rules?: AttemptRules): StagingArea;
  /** Remove what no committed row references and no leased attempt may still use (see LocalOutputStore.cleanup). */
  cleanup(referencedDirs: Set<string>, leased?: ReadonlySet<string>): Promise<{ removed: string[] }>;
  /** A published dir whose commit transaction was cut off: keep it until the database can say whether it committed. */
  uncertain(dir: string, jobId: string, attempt: number): void;
  /**
   * Decide the uncertain dirs: `lookup(jobIds)` gives, from the database, the
   * dirs their committed rows reference and the attempts still leased; a dir
   * neither referenced nor leased is removed, a referenced one kept.
   */
  settleUncertain(lookup: (jobIds: string[]) => Promise<{ referenced: ReadonlySet<string>; leased: ReadonlySet<string> }>): Promise<string[]>;
  /** Remove staged attempts that lost their lease. */
  sweepStaging(leasedOf: (jobIds: string[]) => Promise<ReadonlySet<string>>): Promise<string[]>;
  /** Remove every committed attempt of a purged job. */
  removeJob(jobId: string): Promise<void>;
  /** Remove what an attempt published, if anything: its lease was lost before it committed, so it never will. */
  removeLostAttempt(jobId: string, attempt: number): Promise<boolean>;
  /** Undo a publish whose rows could not be written. */
  unpublish(dir: string): Promise<void>;
  /** A committed Parquet file as Arrow IPC chunks. */
  readAsIpc(parquetPath: string, maxChunk?: number): AsyncGenerator<Uint8Array>;
  close(): Promise<void>;
}

export class LocalOutputStore implements OutputStore {
  /** The root: the data dir, or --output-root (the name predates replicas). */
  readonly dataDir: string;
  readonly stagingRoot: string;
  readonly outputsRoot: string;
  private readonly maxOutputs: number;
  private readonly ipcLimits: IpcLimits;
  private readonly codec: ParquetCodec;
  readonly writers: OutputWriterFactory;
  /** Staging dirs in use by this process (cleanup leaves them alone). */
  private readonly active = new Set<string>();
  /** Dirs published by this process whose DB rows may still be on their way. */
  private readonly published = new Set<string>();
  /** Published dirs whose commit outcome is unknown (the database went away during it), by dir. */
  private readonly uncertainDirs = new Map<string, { jobId: string; attempt: number }>();

  constructor(dataDir: string, options: OutputStoreOptions = {}) {
    this.dataDir = path.resolve(dataDir);
    this.stagingRoot = path.join(this.dataDir, 'staging');
    this.outputsRoot = path.join(this.dataDir, 'outputs');
    this.maxOutputs = options.maxOutputsPerAttempt ?? 256;
    this.ipcLimits = options.ipcLimits ?? DEFAULT_IPC_LIMITS;
    this.codec = options.codec ?? 'snappy';
    this.writers = options.writers ?? new WasmWriterFactory(1);
  }

  /** Release the writers' threads or helper process. Idempotent. */
  close(): Promise<void> {
    return this.writers.close();
  }

  /** The committed directory of an attempt. */
  attemptDir(jobId: string, attempt: number): string {
    return path.join(this.outputsRoot, jobId, `attempt-${attempt}`);
  }

  /** Start staging one attempt. */
  stage(jobId: string, attempt: number, rules?: AttemptRules): StagingArea {
    if (!JOB_ID_RE.test(jobId)) throw new TypeError(`job id ${JSON.stringify(jobId)} cannot name a directory`);
    if (!Number.isSafeInteger(attempt) || attempt < 0) throw new TypeError(`bad attempt number ${attempt}`);
    const dir = path.join(
      this.stagingRoot,
      `${jobId}.attempt-${attempt}.${process.pid}-${crypto.randomBytes(6).toString('hex')}`,
    );
    this.active.add(dir);
    return new Staging(dir, this.attemptDir(jobId, attempt), this.maxOutputs, { limits: this.ipcLimits, codec: this.codec }, this.writers, {
      released: () => this.active.delete(dir),
      published: (finalDir) => this.published.add(finalDir),
    }, rules);
  }

  /**
   * Remove staging dirs not in use by this process (left by a previous one) and
   * committed attempt dirs that are not in `referencedDirs` and were not
   * published by this process.
   *
   * `leased` names the attempts (`{jobId}/attempt-{n}`) that hold a lease now.
   * With one Sentinel it is empty: cleanup runs at startup, before work is
   * accepted. When replicas share the output root it must be given, read from
   * the database BEFORE `referencedDirs`: another replica may be staging or
   * committing a leased attempt right now, and its dirs are kept. An attempt
   * that commits between the two reads is in `referencedDirs`; one that loses
   * its lease can never commit, so its dirs are garbage.
   */
  async cleanup(referencedDirs: Set<string>, leased: ReadonlySet<string> = new Set()): Promise<{ removed: string[] }> {
    const keep = new Set<string>([...referencedDirs].map((d) => path.resolve(d)));
    for (const d of this.published) keep.add(d);
    const removed: string[] = [];
    for (const entry of await listDir(this.stagingRoot)) {
      const p = path.join(this.stagingRoot, entry.name);
      if (this.active.has(p)) continue;
      const m = STAGING_NAME_RE.exec(entry.name);
      if (m && leased.has(`${m[1]}/attempt-${m[2]}`)) continue;
      await fs.rm(p, { recursive: true, force: true });
      removed.push(p);
    }
    for (const job of await listDir(this.outputsRoot)) {
      if (!job.isDirectory()) continue;
      const jobDir = path.join(this.outputsRoot, job.name);
      let kept = 0;
      for (const attempt of await listDir(jobDir)) {
        const p = path.join(jobDir, attempt.name);
        if (keep.has(p) || leased.has(`${job.name}/${attempt.name}`)) {
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

  /**
   * Remove the staging dirs (not in use by this process) whose attempt does
   * not hold its lease: `leasedOf(jobIds)` answers, from the database, which
   * of those jobs' attempts do (`{jobId}/attempt-{n}`). A staging dir is only
   * ever created for a leased attempt and attempt numbers only grow, so one
   * found unleased can never be used again.
   */
  async sweepStaging(leasedOf: (jobIds: string[]) => Promise<ReadonlySet<string>>): Promise<string[]> {
    const candidates: { dir: string; key: string; jobId: string }[] = [];
    for (const entry of await listDir(this.stagingRoot)) {
      const dir = path.join(this.stagingRoot, entry.name);
      const m = STAGING_NAME_RE.exec(entry.name);
      if (!m || this.active.has(dir)) continue;
      candidates.push({ dir, key: `${m[1]}/attempt-${m[2]}`, jobId: m[1] });
    }
    if (candidates.length === 0) return [];
    const leased = await leasedOf([...new Set(candidates.map((c) => c.jobId))]);
    const removed: string[] = [];
    for (const c of candidates) {
      if (leased.has(c.key)) continue;
      await fs.rm(c.dir, { recursive: true, force: true });
      removed.push(c.dir);
    }
    return removed;
  }

  uncertain(dir: string, jobId: string, attempt: number): void {
    this.uncertainDirs.set(path.resolve(dir), { jobId, attempt });
  }

  async settleUncertain(lookup: (jobIds: string[]) => Promise<{ referenced: ReadonlySet<string>; leased: ReadonlySet<string> }>): Promise<string[]> {
    if (this.uncertainDirs.size === 0) return [];
    const items = [...this.uncertainDirs];
    const { referenced, leased } = await lookup([...new Set(items.map(([, v]) => v.jobId))]);
    const removed: string[] = [];
    for (const [dir, { jobId, attempt }] of items) {
      if (referenced.has(dir)) {
        this.uncertainDirs.delete(dir); // it committed
        this.published.delete(dir);
      } else if (!leased.has(`${jobId}/attempt-${attempt}`)) {
        this.uncertainDirs.delete(dir); // it did not, and never will: the attempt lost its lease
        await this.unpublish(dir);
        removed.push(dir);
      }
    }
    return removed;
  }

  async removeLostAttempt(jobId: string, attempt: number): Promise<boolean> {
    if (!JOB_ID_RE.test(jobId)) return false;
    const dir = this.attemptDir(jobId, attempt);
    this.published.delete(dir);
    this.uncertainDirs.delete(dir);
    const existed = await fs.stat(dir).then(() => true, () => false);
    if (existed) await this.unpublish(dir);
    return existed;
  }

  /** Remove every committed attempt of a job (retention, after its rows are gone). */
  async removeJob(jobId: string): Promise<void> {
    const dir = this.insideOutputs(path.join(this.outputsRoot, jobId));
    for (const d of this.published) if (d.startsWith(dir + path.sep)) this.published.delete(d);
    await fs.rm(dir, { recursive: true, force: true });
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
      throw new Error(`refusing to read ${parquetPath}: outside the output root`);
    }
    let cur = new Uint8Array(maxChunk);
    let curLen = 0;
    const pieces = this.writers.readIpc ? this.writers.readIpc(resolved) : parquetToIpcMessages(resolved);
    for await (const message of pieces) {
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
