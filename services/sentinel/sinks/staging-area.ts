/**
 * A staging area: the outputs of one job attempt while the worker streams
 * them. Each output's bytes go to an OutputWriter (output-writer.ts), which
 * turns them into `${name}.parquet` in the staging dir, off the event loop;
 * seal() finishes every writer once the verdict is in, and publish() makes
 * the dir visible with one rename. Created by OutputStore.stage().
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
import type { ConvertOptions, FieldInfo, OutputWriter, OutputWriterFactory } from './output-writer';
import { ConversionError } from './parquet-convert';
import { HelperError } from './parquet-helper';
import { SchemaMismatchError } from './pyarrow-writer';
import { QUARANTINE_SUFFIX, type ColumnSpec } from '../plugins/contracts';
import { sinkFailure } from './sink-io';

export const OUTPUT_NAME_RE = /^[a-z][a-z0-9_]{0,127}$/;

/**
 * What every output of one attempt is checked against and given on its way
 * (applied by a writer factory with `appliesRules`; output-writer.ts).
 */
export interface AttemptRules {
  /** Declared columns by output; absent = the plugin declares no contract. */
  contracts?: Record<string, ColumnSpec[]>;
  /** Lineage values; the source hash arrives later (setSourceHash). */
  lineage: { jobId: string; pluginVersion: string };
  /** Parquet key-value metadata of every output file. */
  metadata: Record<string, string>;
}

export interface StagedOutput {
  name: string;
  /** Rows kept (written to this output). */
  rows: number;
  /** For an output with rules: its rows set aside into `${name}_quarantine` (also staged, when > 0). */
  quarantined?: number;
  /** Size of the Parquet file on disk. */
  sizeBytes: number;
  parquetPath: string;
  schema: FieldInfo[];
}

export interface StagingArea {
  readonly dir: string;
  /**
   * Append bytes of output `name` (handed to its writer, never held here).
   * Calls are applied in call order. Resolves once the writer has taken the
   * bytes, which is the caller's backpressure. Throws JobFailure
   * protocol/INVALID_OUTPUT for a bad output name, too many outputs or bytes
   * already known to be invalid, and transient/INTERNAL when the writer failed.
   */
  append(name: string, bytes: Uint8Array): Promise<void>;
  /**
   * Finish each output's Parquet file in the staging dir (validated). Throws
   * JobFailure protocol/INVALID_OUTPUT naming the output when its bytes are not
   * a complete, valid Arrow IPC stream or cannot be stored as Parquet, and
   * transient/INTERNAL when the writer itself failed. No outputs at all is valid: [].
   */
  seal(): Promise<StagedOutput[]>;
  /**
   * Rename the sealed staging dir to `${dataDir}/outputs/${jobId}/attempt-${attempt}`
   * and return that dir and the outputs with their final paths.
   */
  publish(): Promise<{ dir: string; outputs: StagedOutput[] }>;
  /** Throw the staged data away. Idempotent; a no-op once published. */
  discard(): Promise<void>;
  /** The SHA-256 of the attempt's input, for the lineage of outputs opened after this call. */
  setSourceHash(sha256: string): void;
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

/** What a writer's failure means for the attempt: the output's fault, the volume's (SINK_FULL), or ours (transient). */
async function writerFailure(volume: string, name: string, err: unknown): Promise<unknown> {
  const io = await sinkFailure(volume, `output ${JSON.stringify(name)}`, err);
  if (io) return io;
  if (err instanceof IpcFormatError) return invalidOutput(`output ${JSON.stringify(name)} is not a valid Arrow IPC stream: ${err.message}`);
  if (err instanceof ConversionError) return invalidOutput(`output ${JSON.stringify(name)} ${err.message}`);
  if (err instanceof SchemaMismatchError) return new JobFailure(JobErrors.schemaMismatch(err.message));
  if (err instanceof HelperError) return new JobFailure(JobErrors.internal(`output ${JSON.stringify(name)}: ${err.message}`));
  return err;
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
  private readonly writers = new Map<string, OutputWriter>();
  private tail: Promise<unknown> = Promise.resolve();
  private created: Promise<void> | undefined;
  private staged: StagedOutput[] = [];
  private sourceHash: string | null = null;

  constructor(
    readonly dir: string,
    private readonly finalDir: string,
    private readonly maxOutputs: number,
    private readonly convertOptions: ConvertOptions,
    private readonly factory: OutputWriterFactory,
    private readonly hooks: StagingHooks,
    private readonly rules?: AttemptRules,
  ) {}

  setSourceHash(sha256: string): void {
    this.sourceHash = sha256;
  }

  /** The writer options of output `name`; throws JobFailure when the output may not be written. */
  private optionsFor(name: string): ConvertOptions {
    if (name.endsWith(QUARANTINE_SUFFIX)) {
      throw invalidOutput(`invalid output name ${JSON.stringify(name)}: names ending in ${QUARANTINE_SUFFIX} are where the Sentinel puts quarantined rows`);
    }
    const r = this.rules;
    if (!r) return this.convertOptions;
    const contract = r.contracts ? r.contracts[name] : undefined;
    if (r.contracts && !contract) {
      const declared = Object.keys(r.contracts).sort().join(', ') || 'none';
      throw new JobFailure(JobErrors.schemaMismatch(`output ${JSON.stringify(name)} is not declared in the plugin's OUTPUTS (declared: ${declared})`));
    }
    if (!this.factory.appliesRules) {
      if (!r.contracts) return this.convertOptions; // no contract to enforce; parquet-wasm adds no lineage columns (docs/operations.md)
      throw new JobFailure(
        JobErrors.contractUnsupported(
          `the plugin declares OUTPUTS, but this Sentinel commits with parquet-wasm, which cannot enforce them; start it with --commit-writer pyarrow (needs a pyarrow env)`,
        ),
      );
    }
    return {
      ...this.convertOptions,
      rules: {
        output: name,
        contract: contract ?? null,
        lineage: { _cf_job_id: r.lineage.jobId, _cf_source_hash: this.sourceHash, _cf_plugin_version: r.lineage.pluginVersion },
        metadata: r.metadata,
      },
    };
  }

  append(name: string, bytes: Uint8Array): Promise<void> {
    if (!this.fsm.is('open')) return Promise.reject(new IllegalStateError('staging area', this.fsm.state, 'append'));
    if (!OUTPUT_NAME_RE.test(name)) {
      return Promise.reject(
        invalidOutput(`invalid output name ${JSON.stringify(name.slice(0, 200))}: must match ${OUTPUT_NAME_RE}`),
      );
    }
    if (!this.writers.has(name) && this.writers.size >= this.maxOutputs) {
      return Promise.reject(invalidOutput(`too many outputs: at most ${this.maxOutputs} per attempt`));
    }
    // Open the writer synchronously so concurrent first appends share it; it
    // is used only after the staging dir exists (the chain below).
    let writer = this.writers.get(name);
    let options = this.convertOptions;
    if (!writer) {
      try {
        options = this.optionsFor(name);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const opening = writer ? undefined : this.ensureDir();
    if (!writer) {
      const w = this.factory.open(path.join(this.dir, name), options);
      this.writers.set(name, w);
      writer = w;
    }
    const w = writer;
    const run = this.tail.then(async () => {
      if (opening) await opening.catch(async (err) => Promise.reject((await sinkFailure(this.dir, 'staging the outputs', err)) ?? err));
      this.fsm.require('append', 'open');
      try {
        await w.write(bytes);
      } catch (err) {
        throw await writerFailure(this.dir, name, err);
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
      const names = [...this.writers.keys()].sort();
      const out: StagedOutput[] = [];
      for (const name of names) {
        let result;
        try {
          result = await this.writers.get(name)!.finish();
        } catch (err) {
          throw await writerFailure(this.dir, name, err);
        }
        const parquetPath = path.join(this.dir, `${name}.parquet`);
        const q = result.quarantine;
        out.push({ name, rows: result.rows, sizeBytes: result.parquetBytes, parquetPath, schema: result.schema, ...(this.rules && this.factory.appliesRules ? { quarantined: q?.rows ?? 0 } : {}) });
        if (q && q.rows > 0) {
          const qname = `${name}${QUARANTINE_SUFFIX}`;
          out.push({ name: qname, rows: q.rows, sizeBytes: q.parquetBytes, parquetPath: path.join(this.dir, `${qname}.parquet`), schema: q.schema });
        }
      }
      if (names.length > 0) await fsyncDir(this.dir);
      this.staged = out;
      this.fsm.to('sealed'); // throws if it was discarded meanwhile
      return out.map((o) => ({ ...o, schema: [...o.schema] }));
    } catch (err) {
      if (this.fsm.is('sealing')) this.fsm.to('failed');
      throw (await sinkFailure(this.dir, 'sealing the outputs', err)) ?? err;
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
      throw (await sinkFailure(this.dir, 'publishing the outputs', err)) ?? err;
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
    // Abort first: a write waiting on a stuck writer's backpressure then returns.
    await Promise.all([...this.writers.values()].map((w) => w.abort().catch(() => undefined)));
    await this.tail;
    await fs.rm(this.dir, { recursive: true, force: true, maxRetries: 5 });
    this.hooks.released();
  }

  private ensureDir(): Promise<void> {
    this.created ??= fs.mkdir(this.dir, { recursive: true }).then(() => undefined);
    return this.created;
  }
}
