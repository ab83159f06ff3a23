/**
 * What every test cluster has, however its Sentinel and Workers run: one temp
 * root, the configuration of test services (written once, as the CLI's flags
 * and environment variables) and the client-side helpers. There are two ways
 * to start one: `Cluster` (cluster.ts) runs the services in this process,
 * `ProcCluster` (proc-cluster.ts) as real processes through the CLI.
 *
 *     {root}/data/   the Sentinel's data dir (sentinel.db, outputs/, staging/)
 *     {root}/in/     input files (the Sentinel's only input root)
 */
import type * as grpc from '@grpc/grpc-js';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Flags } from '../../services/common/config';
import { JobState, type Job } from '../../services/gen/casparian/v1/types';
import { SentinelClient } from '../../tools/cli/client';
import { testIndexUrl } from './pip-index';
import { SHARED_LOCKFILE, testHome } from './python-env';
import { openDatabase, type Db } from '../../services/sentinel/db/open-database';
import { clusterStore, freshPgDatabase } from './stores';
import { waitFor } from './wait';

export const FINAL_STATES: readonly JobState[] = [
  JobState.JOB_STATE_SUCCEEDED,
  JobState.JOB_STATE_FAILED,
  JobState.JOB_STATE_CANCELLED,
  JobState.JOB_STATE_DEAD_LETTER,
];

/** A service's configuration in the CLI's terms: flags (without --) and environment variables. */
export interface ServiceConfig {
  flags: Flags;
  env: Record<string, string>;
}

export interface LeaseTiming {
  leaseMs: number;
  heartbeatMs: number;
}

export interface PublishOptions {
  /** Default: SHARED_LOCKFILE, the pyarrow env every test run builds once. */
  lockfile?: string;
  version?: string;
  maxAttempts?: number;
  description?: string;
  /** The manifest's isolation level ('' or absent: the worker's default). */
  isolation?: string;
  /** Host variables the plugin asks for (the manifest's env_allow). */
  envAllow?: string[];
  /** manifest.max_concurrency (0 = no cap). */
  maxConcurrency?: number;
}

export interface SubmitOptions {
  maxAttempts?: number;
  idempotencyKey?: string;
  startToCloseMs?: number;
}

export abstract class TestCluster {
  readonly root: string;
  readonly dataDir: string;
  readonly inputDir: string;
  private clientInstance: SentinelClient | undefined;

  protected constructor(prefix: string) {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    this.dataDir = path.join(this.root, 'data');
    this.inputDir = path.join(this.root, 'in');
    for (const d of [this.dataDir, this.inputDir]) fs.mkdirSync(d, { recursive: true });
  }

  /** host:port of the Sentinel. */
  abstract get address(): string;

  /** What workers dial (--sentinel): the Sentinel, or every replica's address. */
  get workerSentinel(): string {
    return this.address;
  }

  get client(): SentinelClient {
    this.clientInstance ??= new SentinelClient(this.address, undefined, this.clientCredentials(), this.clientToken());
    return this.clientInstance;
  }

  /** The PostgreSQL database of this cluster's Sentinel (CASPARIAN_TEST_STORE=postgres), kept across its restarts; unset = SQLite in the data dir. */
  storeUrl: string | undefined;

  /** The output root every replica shares (a cluster of several replicas); unset = the data dir. */
  sharedOutputRoot: string | undefined;

  /** Where committed outputs live: outputs/ and staging/ under it. */
  get outputRoot(): string {
    return this.sharedOutputRoot ?? this.dataDir;
  }

  /** Create this cluster's store, if it is not SQLite (the clusters call this before the Sentinel first starts). */
  async prepareStore(postgres = clusterStore() === 'postgres'): Promise<void> {
    if (postgres) this.storeUrl ??= await freshPgDatabase('cluster');
  }

  /** The Sentinel's store, opened from the test (to look at rows, or to tamper with them); the caller destroys it. */
  openStore(): Promise<Db> {
    return openDatabase(this.storeUrl ?? `sqlite:${path.join(this.dataDir, 'sentinel.db')}`);
  }

  /** How this cluster's client dials the Sentinel (plaintext unless a cluster says otherwise). */
  protected clientCredentials(): grpc.ChannelCredentials | undefined {
    return undefined;
  }

  /** The client token this cluster's client sends (none unless a cluster says otherwise). */
  protected clientToken(): string | undefined {
    return undefined;
  }

  protected closeClient(): void {
    this.clientInstance?.close();
    this.clientInstance = undefined;
  }

  /** Flags and environment of the test Sentinel: this cluster's data dir and input root, short leases. */
  /** ...and the run's env home and package index, where it provisions its Parquet helper's env once per run. */
  protected sentinelConfig(port: number, timing: LeaseTiming): ServiceConfig {
    const index = testIndexUrl();
    return {
      flags: {
        'data-dir': this.dataDir,
        port: String(port),
        'input-root': this.inputDir,
        home: testHome(),
        ...(index ? { 'index-url': index } : {}),
        ...(this.storeUrl ? { db: this.storeUrl } : {}),
        ...(this.sharedOutputRoot ? { 'output-root': this.sharedOutputRoot } : {}),
      },
      env: { CASPARIAN_LEASE_MS: String(timing.leaseMs), CASPARIAN_HEARTBEAT_MS: String(timing.heartbeatMs) },
    };
  }

  /**
   * Flags of a test worker: the run's env home and package index, no gRPC
   * server of its own, and --allow-unsigned (test plugins are published
   * unsigned; the signing tests start workers without it).
   */
  protected workerConfig(workerId: string, slots: number): ServiceConfig {
    const flags: Flags = { sentinel: this.workerSentinel, 'worker-id': workerId, slots: String(slots), home: testHome(), 'worker-port': '-1', 'allow-unsigned': true };
    const index = testIndexUrl();
    if (index) flags['index-url'] = index;
    return { flags, env: {} };
  }

  /** Write an input file into this cluster's input root; returns its path. */
  input(name: string, content: string): string {
    const file = path.join(this.inputDir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
    return file;
  }

  /** Publish a plugin; returns its env hash. */
  async publish(name: string, source: string, opts: PublishOptions = {}): Promise<string> {
    const res = await this.client.publishPlugin({
      name,
      version: opts.version ?? '1.0.0',
      source,
      lockfile: opts.lockfile ?? SHARED_LOCKFILE,
      manifest: { description: opts.description ?? '', envAllow: opts.envAllow ?? [], maxAttempts: opts.maxAttempts ?? 0, timeouts: undefined, limits: undefined, isolation: opts.isolation ?? '', maxConcurrency: opts.maxConcurrency ?? 0 },
    });
    return res.plugin!.envHash;
  }

  async submit(plugin: string, inputPath: string, extra: SubmitOptions = {}): Promise<Job> {
    const res = await this.client.submitJob({
      pluginName: plugin,
      pluginVersion: '',
      inputPath,
      idempotencyKey: extra.idempotencyKey ?? '',
      maxAttempts: extra.maxAttempts ?? 0,
      timeouts: extra.startToCloseMs ? { guestConnectMs: 0, idleMs: 0, startToCloseMs: extra.startToCloseMs, killGraceMs: 0, scheduleToStartMs: 0 } : undefined,
    });
    return res.job!;
  }

  async getJob(jobId: string, includeLogs = false): Promise<Job> {
    return (await this.client.getJob({ jobId, includeLogs })).job!;
  }

  /** Poll until the job is in a final state (or `pred` holds). */
  async waitJob(jobId: string, timeoutMs = 120_000, pred: (j: Job) => boolean = (j) => FINAL_STATES.includes(j.state)): Promise<Job> {
    let last: Job | undefined;
    try {
      return await waitFor(
        `job ${jobId}`,
        async () => {
          last = await this.getJob(jobId);
          return pred(last) ? last : undefined;
        },
        timeoutMs,
        50,
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}; last seen: state ${last ? JobState[last.state] : '?'} attempt ${last?.attempt} error ${JSON.stringify(last?.error)}`);
    }
  }

  /** Every job of a plugin (pages through ListJobs). */
  async listJobs(pluginName: string): Promise<Job[]> {
    const out: Job[] = [];
    let pageToken = '';
    do {
      const res = await this.client.listJobs({ state: JobState.JOB_STATE_UNSPECIFIED, pluginName, pageSize: 1000, pageToken });
      out.push(...res.jobs);
      pageToken = res.nextPageToken;
    } while (pageToken);
    return out;
  }

  /** The committed attempt directories of a job on disk (outputs/JOB/attempt-*). */
  attemptDirs(jobId: string): string[] {
    const dir = path.join(this.outputRoot, 'outputs', jobId);
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir).filter((d) => d.startsWith('attempt-'));
  }

  /** Staging dirs the Sentinel still holds. */
  stagingDirs(): string[] {
    const d = path.join(this.outputRoot, 'staging');
    return fs.existsSync(d) ? fs.readdirSync(d) : [];
  }
}
