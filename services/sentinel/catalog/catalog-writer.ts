/**
 * The catalog file: a DuckDB database at `{dataDir}/catalog.duckdb` holding one
 * view per dataset over a glob of its committed Parquet files, so that
 * `duckdb catalog.duckdb` (or any DuckDB client) sees the same tables as
 * `casparian query`. A glob is always current, so the file is rewritten only
 * when the set of dataset names changes: at start, when a commit brings a name
 * not seen before, and after a purge (which may remove a dataset's last job;
 * its view is then dropped, since a view over no files fails to read).
 *
 *     idle ──schedule()──► writing ──► idle
 *                            │  └─ a schedule() meanwhile: write again after
 *                            └─ failed (e.g. a reader holds the file): retry after a delay
 *
 * Writes are serialized, never awaited by a commit, and a failure is logged,
 * never thrown to the caller. DuckDB allows one writing process per file and no
 * writer while another process reads it, so each write opens the file, writes
 * and closes it; a lock held by an outside reader means "retry later".
 */
import { DuckDBInstance } from '@duckdb/node-api';
import type { Logger } from '../../common/logger';
import type { CatalogUpdates } from './catalog-updates';
import { createViewSql, datasetGlob, hasGlobCharacters, isDatasetName, quoteIdent } from './catalog-sql';

export interface CatalogWriterOptions {
  /** The DuckDB file to keep current. */
  file: string;
  /** The committed outputs' root (`{dataDir}/outputs`). */
  outputsRoot: string;
  /** The dataset names now committed (listDatasetNames over the database). */
  listNames: () => Promise<string[]>;
  logger: Logger;
  /** First retry delay after a failed write (doubles up to 60 s); default 2 s. */
  retryMs?: number;
}

const MAX_RETRY_MS = 60_000;

export class CatalogWriter implements CatalogUpdates {
  /** Names the file has views for, once a write has succeeded. */
  private known: Set<string> | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay: number;
  private closed = false;
  /** Writes that changed the file (for tests and logs). */
  writes = 0;

  constructor(private readonly o: CatalogWriterOptions) {
    this.retryDelay = o.retryMs ?? 2_000;
    if (hasGlobCharacters(o.outputsRoot)) {
      o.logger.warn('the data directory path has glob characters; the catalog views may match other files', { outputsRoot: o.outputsRoot });
    }
  }

  /** After a commit: rewrite the file if one of `names` has no view yet. Returns at once. */
  committed(names: readonly string[]): void {
    if (this.known && names.every((n) => this.known!.has(n) || !isDatasetName(n))) return;
    this.schedule();
  }

  /** After a purge: rewrite the file if a dataset lost its last job. Returns at once. */
  removed(): void {
    this.schedule();
  }

  /** Bring the file up to date soon (at start, or when the names may have changed). Returns at once. */
  schedule(): void {
    if (this.closed) return;
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
  }

  /** Resolves once no write is running or queued (a pending retry does not count). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stop retrying and wait for a running write. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.idle();
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.sync();
        this.retryDelay = this.o.retryMs ?? 2_000;
      } catch (err) {
        if (this.closed) return;
        const delay = this.retryDelay;
        this.retryDelay = Math.min(MAX_RETRY_MS, this.retryDelay * 2);
        this.o.logger.warn('could not update the catalog file; will retry', { file: this.o.file, retryInMs: delay, error: (err as Error).message });
        if (!this.again) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            this.schedule();
          }, delay).unref();
        }
      }
    } while (this.again && !this.closed);
  }

  /** Write the views if the names differ from what the file has. */
  private async sync(): Promise<void> {
    const names = (await this.o.listNames()).filter(isDatasetName);
    if (this.known && names.length === this.known.size && names.every((n) => this.known!.has(n))) return;
    this.known = await this.write(names);
    this.writes++;
  }

  /**
   * Drop the views of vanished datasets and (re)create one per name; returns
   * the names that have a view. A view that cannot be created (its files are
   * gone, say) is logged and left out, so that it is tried again at the next
   * commit of that name, while the others stay current.
   */
  private async write(names: string[]): Promise<Set<string>> {
    const done = new Set<string>();
    const instance = await DuckDBInstance.create(this.o.file, { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false', threads: '1' });
    try {
      const c = await instance.connect();
      try {
        const existing = await c.runAndReadAll(
          "SELECT view_name FROM duckdb_views() WHERE NOT internal AND NOT temporary AND database_name = current_database() AND schema_name = 'main'",
        );
        const want = new Set(names);
        for (const [view] of existing.getRows()) {
          if (!want.has(String(view))) await c.run(`DROP VIEW IF EXISTS ${quoteIdent(String(view))}`);
        }
        for (const name of names) {
          try {
            await c.run(createViewSql(name, datasetGlob(this.o.outputsRoot, name)));
            done.add(name);
          } catch (err) {
            await c.run(`DROP VIEW IF EXISTS ${quoteIdent(name)}`);
            this.o.logger.warn('catalog: no view for a dataset', { dataset: name, error: (err as Error).message });
          }
        }
      } finally {
        c.closeSync();
      }
    } finally {
      instance.closeSync(); // checkpoints, so the file alone holds the views
    }
    this.o.logger.info('catalog file updated', { file: this.o.file, datasets: done.size });
    return done;
  }
}
