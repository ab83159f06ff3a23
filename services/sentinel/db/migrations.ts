/**
 * Numbered migrations, written once for both stores. Each runs once, in
 * order; the applied numbers are recorded in `schema_migrations`. Never edit
 * what a released migration does: add a new one.
 *
 * The column types that differ come from `t` (ColumnTypes): an integer column
 * is `integer` on SQLite (64-bit there) and `bigint` on PostgreSQL (whose
 * `integer` is 32-bit, too small for milliseconds since the epoch); a serial
 * key is SQLite's `integer primary key autoincrement` or PostgreSQL's identity
 * column.
 *
 * On SQLite each migration has its own transaction. On PostgreSQL all pending
 * migrations run in one transaction under an advisory lock, so replicas that
 * start together migrate once and never see a half-migrated schema.
 */
import { sql, type ColumnDefinitionBuilder, type Kysely } from 'kysely';
import { storeKind, type StoreKind } from './dialect';

export interface ColumnTypes {
  kind: StoreKind;
  /** A 64-bit integer column. */
  int: 'integer' | 'bigint';
  /** The type of a serial primary key column; with `serial` as its builder. */
  serialType: 'integer' | 'bigint';
  serial(c: ColumnDefinitionBuilder): ColumnDefinitionBuilder;
}

export function columnTypes(kind: StoreKind): ColumnTypes {
  return kind === 'postgres'
    ? { kind, int: 'bigint', serialType: 'bigint', serial: (c) => c.primaryKey().generatedByDefaultAsIdentity() }
    : { kind, int: 'integer', serialType: 'integer', serial: (c) => c.primaryKey().autoIncrement() };
}

export interface Migration {
  id: number;
  name: string;
  up(db: Kysely<any>, t: ColumnTypes): Promise<void>;
}

export const MIGRATIONS: Migration[] = [
  {
    id: 1,
    name: 'initial schema',
    async up(db, t) {
      await db.schema
        .createTable('plugins')
        .addColumn('seq', t.serialType, t.serial)
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('lockfile', 'text', (c) => c.notNull())
        .addColumn('manifest_json', 'text', (c) => c.notNull())
        .addColumn('env_hash', 'text', (c) => c.notNull())
        .addColumn('artifact_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', t.int, (c) => c.notNull())
        .addUniqueConstraint('plugins_name_version', ['name', 'version'])
        .execute();

      await db.schema
        .createTable('jobs')
        .addColumn('seq', t.serialType, t.serial)
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('plugin_name', 'text', (c) => c.notNull())
        .addColumn('plugin_version', 'text', (c) => c.notNull())
        .addColumn('env_hash', 'text', (c) => c.notNull())
        .addColumn('input_path', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempt', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('max_attempts', t.int, (c) => c.notNull())
        .addColumn('lease_token', 'text')
        .addColumn('lease_expires_at', t.int)
        .addColumn('worker_id', 'text')
        .addColumn('run_at', t.int, (c) => c.notNull())
        .addColumn('idempotency_key', 'text', (c) => c.unique())
        .addColumn('timeouts_json', 'text', (c) => c.notNull())
        .addColumn('error_json', 'text')
        .addColumn('metrics_json', 'text')
        .addColumn('cancel_requested', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', t.int, (c) => c.notNull())
        .addColumn('updated_at', t.int, (c) => c.notNull())
        .addColumn('started_at', t.int)
        .addColumn('finished_at', t.int)
        .execute();
      await db.schema.createIndex('jobs_state_run_at').on('jobs').columns(['state', 'run_at', 'seq']).execute();
      await db.schema.createIndex('jobs_lease').on('jobs').columns(['state', 'lease_expires_at']).execute();

      await db.schema
        .createTable('outputs')
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('attempt', t.int, (c) => c.notNull())
        .addColumn('rows', t.int, (c) => c.notNull())
        .addColumn('size_bytes', t.int, (c) => c.notNull())
        .addColumn('parquet_path', 'text', (c) => c.notNull())
        .addColumn('columns_json', 'text', (c) => c.notNull())
        .addColumn('created_at', t.int, (c) => c.notNull())
        .addPrimaryKeyConstraint('outputs_pk', ['job_id', 'name'])
        .execute();

      await db.schema
        .createTable('job_logs')
        .addColumn('id', t.serialType, t.serial)
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('attempt', t.int, (c) => c.notNull())
        .addColumn('level', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('time', t.int, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('job_logs_job').on('job_logs').columns(['job_id', 'id']).execute();
    },
  },
  {
    id: 2,
    name: 'circuit breaker per plugin version; attempt budget per job',
    async up(db, t) {
      await db.schema.alterTable('plugins').addColumn('paused', t.int, (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('plugins').addColumn('consecutive_failures', t.int, (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('plugins').addColumn('paused_reason', 'text').execute();
      await db.schema.alterTable('plugins').addColumn('paused_at', t.int).execute();
      await db.schema.alterTable('jobs').addColumn('attempt_budget', t.int, (c) => c.notNull().defaultTo(0)).execute();
      await sql`update jobs set attempt_budget = max_attempts`.execute(db);
    },
  },
  {
    id: 3,
    name: 'retry backoff per job',
    async up(db) {
      // JSON {initialMs?, multiplier?, maxMs?} overriding the Sentinel's policy; null = none.
      await db.schema.alterTable('jobs').addColumn('backoff_json', 'text').execute();
    },
  },
  {
    id: 4,
    name: 'request fingerprint of an idempotency key',
    async up(db) {
      // sha256 of the SubmitJob request that first used the job's key; null (older jobs) matches any request.
      await db.schema.alterTable('jobs').addColumn('submit_fingerprint', 'text').execute();
    },
  },
  {
    id: 5,
    name: 'batches (SubmitJobs)',
    async up(db, t) {
      await db.schema
        .createTable('batches')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('plugin_name', 'text', (c) => c.notNull())
        .addColumn('plugin_version', 'text', (c) => c.notNull())
        .addColumn('total', t.int, (c) => c.notNull())
        .addColumn('idempotency_key', 'text', (c) => c.unique())
        .addColumn('submit_fingerprint', 'text')
        .addColumn('created_at', t.int, (c) => c.notNull())
        .execute();
      await db.schema.alterTable('jobs').addColumn('batch_id', 'text').execute();
      await db.schema.createIndex('jobs_batch').on('jobs').columns(['batch_id', 'seq']).execute();
    },
  },
  {
    id: 6,
    name: 'W3C trace context of a job',
    async up(db) {
      // The submission's traceparent (version-00 form, 55 characters); null = none.
      await db.schema.alterTable('jobs').addColumn('traceparent', 'text').execute();
    },
  },
  {
    id: 7,
    name: 'output contracts per plugin version',
    async up(db) {
      // JSON PluginContracts (services/sentinel/plugins/contracts.ts) read from the source at publish; null = none declared.
      await db.schema.alterTable('plugins').addColumn('contracts_json', 'text').execute();
    },
  },
  {
    id: 8,
    name: 'queue controls: job priority and not_before',
    async up(db, t) {
      // Higher runs first; FIFO (seq) within a priority.
      await db.schema.alterTable('jobs').addColumn('priority', t.int, (c) => c.notNull().defaultTo(0)).execute();
      // Milliseconds since the epoch; null = none. run_at never goes below it.
      await db.schema.alterTable('jobs').addColumn('not_before', 'bigint').execute();
      // listRunnable walks this index in dispatch order (state = 'queued', priority desc, seq) and stops at its
      // limit. jobs_state_run_at goes: with it the planner preferred the run_at range and sorted every runnable
      // job in a temporary b-tree on each scheduler round (~20 ms at 100k queued jobs, against ~0.2 ms now).
      await db.schema.createIndex('jobs_queue_order').on('jobs').columns(['state', 'priority desc', 'seq']).execute();
      await db.schema.dropIndex('jobs_state_run_at').execute();
    },
  },
  {
    id: 9,
    name: 'publisher signature per plugin version',
    async up(db) {
      // Ed25519 signature (base64) and its key id, as published; null = unsigned. Workers verify them.
      await db.schema.alterTable('plugins').addColumn('signature', 'text').execute();
      await db.schema.alterTable('plugins').addColumn('signing_key_id', 'text').execute();
    },
  },
  {
    id: 10,
    name: 'sink routes and their deliveries',
    async up(db, t) {
      // JSON SinkRoute[] (services/sentinel/sinks/routes.ts) set at publish; null = none.
      await db.schema.alterTable('plugins').addColumn('sinks_json', 'text').execute();
      // The outbox: written in the transaction that commits the job, delivered after it (sinks/delivery.ts).
      await db.schema
        .createTable('sink_deliveries')
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('output', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('mode', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('tries', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('error', 'text')
        .addColumn('next_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('sink_deliveries_pk', ['job_id', 'output', 'kind', 'target'])
        .execute();
      await db.schema.createIndex('sink_deliveries_due').on('sink_deliveries').columns(['state', 'next_at']).execute();
    },
  },
  {
    id: 11,
    name: 'scanned files (SubmitScan file identity)',
    async up(db) {
      // One row per (plugin name, file path) a scan has seen: the identity it had when last queued or checked.
      // A re-scan reads the row to decide: same size and mtime, skip unread; else hash, and queue only if sha256 differs.
      await db.schema
        .createTable('scanned_files')
        .addColumn('plugin_name', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        // Microseconds since the epoch (from the exact nanoseconds; fits a 53-bit integer until the year 2255).
        .addColumn('mtime_us', 'bigint', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        // The job last queued for this file's content (a purge may have removed it since).
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('scanned_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('scanned_files_pk', ['plugin_name', 'path'])
        .execute();
    },
  },
  {
    id: 12,
    name: 'worker sessions of every replica',
    async up(db, t) {
      // One row per connected worker, written by the replica holding its Dispatch stream every few seconds, so that
      // ListWorkers on any replica lists every replica's workers. Rows not refreshed lately are stale (their replica died).
      await db.schema
        .createTable('worker_sessions')
        .addColumn('worker_id', 'text', (c) => c.primaryKey())
        .addColumn('replica_id', 'text', (c) => c.notNull())
        // JSON of the WorkerInfo the replica would list (services/sentinel/replicas/worker-registry.ts).
        .addColumn('info_json', 'text', (c) => c.notNull())
        .addColumn('updated_at', t.int, (c) => c.notNull())
        .execute();
    },
  },
  {
    id: 13,
    name: 'jobs by finish time',
    async up(db) {
      // GetThroughput counts the jobs that finished in a recent window; retention purges by finish time too.
      await db.schema.createIndex('jobs_finished').on('jobs').columns(['finished_at']).execute();
    },
  },
];

/** The advisory lock key PostgreSQL replicas migrate under (any constant; "casp" "mig"). */
const MIGRATION_LOCK = 0x63617370_6d6967n;

export async function migrate(db: Kysely<any>): Promise<number[]> {
  const t = columnTypes(storeKind(db));
  if (t.kind === 'postgres') {
    return db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK.toString()}::bigint)`.execute(trx);
      return applyPending(trx, t);
    });
  }
  return applyPending(db, t, true);
}

async function applyPending(db: Kysely<any>, t: ColumnTypes, eachInTransaction = false): Promise<number[]> {
  await sql`create table if not exists schema_migrations (id integer primary key, name text not null, applied_at ${sql.raw(t.int)} not null)`.execute(db);
  const done = new Set((await sql<{ id: number }>`select id from schema_migrations`.execute(db)).rows.map((r) => Number(r.id)));
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.id)) continue;
    const run = async (trx: Kysely<any>) => {
      await m.up(trx, t);
      await sql`insert into schema_migrations (id, name, applied_at) values (${m.id}, ${m.name}, ${Date.now()})`.execute(trx);
    };
    if (eachInTransaction) await db.transaction().execute(run);
    else await run(db);
    applied.push(m.id);
  }
  return applied;
}
