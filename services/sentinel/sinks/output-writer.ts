/**
 * Contracts of the commit path's writers: where one output's Arrow IPC bytes
 * go while they arrive, and how they become a Parquet file in the staging dir
 * once the attempt's verdict is in. Implementations: pyarrow-writer.ts (the
 * Parquet helper process, converting while the bytes stream in) and
 * wasm-writer.ts (the fallback: staged to disk, converted by parquet-wasm in a
 * worker thread at seal). Both keep encoding off the Sentinel's event loop.
 */

export interface FieldInfo {
  name: string;
  type: string;
  nullable: boolean;
}

export interface ConversionResult {
  /** Rows written to the output's Parquet file. */
  rows: number;
  batches: number;
  schema: FieldInfo[];
  ipcBytes: number;
  parquetBytes: number;
  /** With rules: the rows set aside, written to `${stem}_quarantine.parquet` (present only when rows > 0). */
  quarantine?: { rows: number; parquetBytes: number; schema: FieldInfo[] };
}

/** The lineage columns every committed row carries (services/sentinel/py/output_rules.py). */
export interface LineageValues {
  _cf_job_id: string;
  /** Null when the worker sent no hash of the input (an older worker). */
  _cf_source_hash: string | null;
  _cf_plugin_version: string;
}

/**
 * What the writer applies to each batch on its way (only the pyarrow writer
 * can): the output's contract, quarantine of bad rows, lineage columns, and
 * Parquet key-value metadata.
 */
export interface OutputRulesSpec {
  output: string;
  /** Declared columns, or null for none (then only reserved names and `_cf_row_error` are checked). */
  contract: { name: string; type: string; nullable: boolean }[] | null;
  lineage: LineageValues | null;
  metadata: Record<string, string>;
}

export type ParquetCodec = 'zstd' | 'snappy' | 'none';

export interface IpcLimits {
  /** Largest flatbuffer metadata accepted. */
  maxMetadataBytes: number;
  /** Largest single message body accepted (one message is held in memory at a time). */
  maxBodyBytes: number;
}

export interface ConvertOptions {
  limits?: IpcLimits;
  /** Parquet codec (default snappy). */
  codec?: ParquetCodec;
  /** Contract, quarantine and lineage; only for a factory with `appliesRules`. */
  rules?: OutputRulesSpec;
}

/**
 * One output of one attempt on its way in. Calls never overlap: the staging
 * area awaits each write before the next, and calls finish() or abort() once.
 */
export interface OutputWriter {
  /**
   * Take the next bytes of the output's IPC stream; resolves once they are
   * accepted (the caller's backpressure). May reject early with
   * IpcFormatError (or the writer's own failure) when the stream is already
   * known to be bad.
   */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * The stream is complete: validate it and finish the Parquet file (fsynced).
   * Rejects with IpcFormatError for bytes that are not a complete, valid Arrow
   * IPC stream, ConversionError for data Parquet cannot hold, and any other
   * error when the writer itself failed; the Parquet file is then absent.
   */
  finish(): Promise<ConversionResult>;
  /** Give up: stop the conversion. Idempotent; the staging area removes the files. */
  abort(): Promise<void>;
}

/** Makes the writers of every staging area; owned by the OutputStore's creator. */
export interface OutputWriterFactory {
  /** Which writer this is, for logs and the ADR's figures. */
  readonly kind: 'pyarrow' | 'wasm';
  /** Whether open() honours ConvertOptions.rules (contracts, quarantine, lineage). */
  readonly appliesRules: boolean;
  /** A writer for one output staged as `${stem}.arrows` (if it stages bytes) and `${stem}.parquet`. */
  open(stem: string, options: ConvertOptions): OutputWriter;
  /**
   * Read a committed Parquet file back as the bytes of one uncompressed Arrow
   * IPC stream, in pieces of any size, pulled (memory stays bounded however
   * large the file). Optional: the store reads with parquet-wasm without it.
   */
  readIpc?(parquetPath: string): AsyncIterable<Uint8Array>;
  /** Release threads or processes; idempotent. */
  close(): Promise<void>;
}
