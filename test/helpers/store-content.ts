/**
 * A store with something in every table, written through the queue's own
 * functions (as a Sentinel would write it), and a dump of every table for
 * comparing two stores row by row (`casparian db copy`'s tests).
 */
import { DEFAULT_BACKOFF } from '../../services/common/config';
import { JobErrors } from '../../services/common/job-error';
import { COPIED_TABLES } from '../../services/sentinel/db/copy-store';
import type { Db } from '../../services/sentinel/db/open-database';
import { compileManifest } from '../../services/sentinel/plugins/manifest';
import { publishPlugin } from '../../services/sentinel/plugins/registry';
import { appendLogs, claimJob, completeAttempt, enqueueBatch, enqueueJob, enqueueScanChunk, failAttempt, requestCancel, startAttempt, type NewJob } from '../../services/sentinel/queue';
import type { SinkRoute } from '../../services/sentinel/sinks/routes';
import { deliveryRows } from '../../services/sentinel/sinks/delivery';

export const CONTENT_T0 = 1_700_000_000_000;
const TIMEOUTS = { guestConnectMs: 1_000, idleMs: 2_000, startToCloseMs: 60_000, killGraceMs: 500, scheduleToStartMs: 0 };
const SINKS: SinkRoute[] = [{ output: 'rows', kind: 'parquet', target: 'exports', mode: 'append' }];

export interface ContentOptions {
  /** Single jobs submitted (besides a batch of 5 and a scan of 3); at least 6. */
  jobs?: number;
  /** Log lines of each succeeded job. */
  logLinesPerJob?: number;
  /** The output root the committed outputs' paths lie under. */
  outputRoot?: string;
}

export interface Content {
  /** Jobs that succeeded, each with one output `rows` at `parquetPath`. */
  succeeded: { jobId: string; parquetPath: string }[];
  jobIds: string[];
}

/**
 * Plugins (one with a sink route), single jobs in every state the queue
 * reaches (queued with options, dispatched, succeeded with outputs, logs and
 * sink deliveries, queued again after a failure with its error, cancelled),
 * a SubmitJobs batch with an idempotency key, and a scan chunk with its
 * scanned files.
 */
export async function fillStore(db: Db, o: ContentOptions = {}): Promise<Content> {
  const n = Math.max(6, o.jobs ?? 12);
  const root = o.outputRoot ?? '/var/lib/casparian';
  let now = CONTENT_T0;
  const manifest = compileManifest({ description: 'reads CSV', maxAttempts: 4 });
  const csv = await publishPlugin(db, { name: 'csv', version: '1.0.0', source: 'def parse(path):\n    pass\n', lockfile: 'pyarrow==21.0.0\n', manifest, sinks: SINKS }, now++);
  await publishPlugin(db, { name: 'csv', version: '1.1.0', source: 'def parse(path):\n    return None\n', lockfile: 'pyarrow==21.0.0\n', manifest }, now++);
  await publishPlugin(db, { name: 'Json', version: '0.1', source: 'def parse(path): ...\n', lockfile: 'pyarrow==21.0.0\n', manifest: compileManifest({}) }, now++);
  const envHash = csv.plugin.env_hash;
  const job = (id: string, over: Partial<NewJob> = {}): NewJob => ({ id, pluginName: 'csv', pluginVersion: '1.0.0', envHash, inputPath: `/data/in/${id}.csv`, maxAttempts: 3, timeouts: TIMEOUTS, ...over });

  const jobIds: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `job-${String(i).padStart(4, '0')}`;
    const extra: Partial<NewJob> =
      i % 3 === 0 ? { idempotencyKey: `key-${i}`, submitFingerprint: `fp-${i}` } : i % 3 === 1 ? { priority: i, backoff: { initialMs: 50 }, traceparent: `00-${'a'.repeat(31)}${i % 10}-${'b'.repeat(16)}-01` } : { notBefore: now + 3_600_000 };
    await enqueueJob(db, job(id, extra), now++);
    jobIds.push(id);
  }
  const batch = Array.from({ length: 5 }, (_, i) => job(`batch-job-${i}`, { inputPath: `/data/in/b/${i}.csv` }));
  await enqueueBatch(db, { id: 'batch-1', pluginName: 'csv', pluginVersion: '1.0.0', idempotencyKey: 'batch-key', submitFingerprint: 'batch-fp' }, batch, now++);
  jobIds.push(...batch.map((j) => j.id));
  const scanJobs = Array.from({ length: 3 }, (_, i) => job(`scan-job-${i}`, { inputPath: `/data/in/scan/f${i}.csv` }));
  const files = scanJobs.map((j, i) => ({ path: j.inputPath, size: 100 + i, mtimeUs: now * 1000 + i, sha256: String(i).repeat(64), jobId: j.id }));
  files.push({ path: '/data/in/scan/Touched.csv', size: 7, mtimeUs: now * 1000, sha256: 'f'.repeat(64), jobId: 'scan-job-0' });
  await enqueueScanChunk(db, { id: 'scan-1', pluginName: 'csv', pluginVersion: '1.0.0' }, scanJobs, files, now++);
  jobIds.push(...scanJobs.map((j) => j.id));

  // Every other single job succeeds, but the last few, which stay behind in other states.
  const succeeded: Content['succeeded'] = [];
  const logLines = o.logLinesPerJob ?? 3;
  for (let i = 0; i < n - 4; i += 2) {
    const ref = await claim(db, jobIds[i], now++);
    await startAttempt(db, ref, 30_000, now++);
    await appendLogs(db, Array.from({ length: logLines }, (_, k) => ({ jobId: ref.jobId, attempt: 1, level: k % 5 === 0 ? 'warning' : 'info', source: k % 2 ? 'stderr' : 'plugin', message: `line ${k} of ${ref.jobId}: ünïcode ✓`, time: now + k })));
    const parquetPath = `${root}/outputs/${ref.jobId}/attempt-1/rows.parquet`;
    const outputs = [{ name: 'rows', rows: 10 + i, sizeBytes: 1000 + i, parquetPath, columns: [{ name: 'n', type: 'int64', nullable: false }] }];
    await completeAttempt(db, ref, outputs, { rows: 10 + i, durationMs: 5, envMs: 0, envProvisioned: false, arrowBytes: 200 }, now++, deliveryRows(ref.jobId, outputs, SINKS, now));
    succeeded.push({ jobId: ref.jobId, parquetPath });
  }
  const failed = await claim(db, jobIds[n - 3], now++);
  await failAttempt(db, { ref: failed, error: JobErrors.plugin('transient', 'ValueError: bad row 7'), policy: DEFAULT_BACKOFF, now: now++, rand: () => 0.5 });
  await claim(db, jobIds[n - 2], now++); // stays dispatched
  await requestCancel(db, jobIds[n - 1], 'not needed', now++);
  return { succeeded, jobIds };
}

async function claim(db: Db, jobId: string, now: number) {
  const leaseToken = `lease-${jobId}`;
  const row = await claimJob(db, { jobId, workerId: 'worker-a', leaseToken, leaseMs: 30_000 }, now);
  if (!row) throw new Error(`could not claim ${jobId}`);
  return { jobId, attempt: row.attempt, leaseToken };
}

export type StoreDump = Record<string, Record<string, unknown>[]>;

/**
 * Every copied table's rows, sorted by primary key in JavaScript (the two
 * stores may collate text differently), values as JavaScript numbers,
 * strings and nulls.
 */
export async function dumpStore(db: Db): Promise<StoreDump> {
  const out: StoreDump = {};
  for (const t of COPIED_TABLES) {
    const rows = (await db.selectFrom(t.name).selectAll().execute()) as Record<string, unknown>[];
    const norm = rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])));
    const cmp = (a: Record<string, unknown>, b: Record<string, unknown>): number => {
      for (const k of t.key) {
        const [x, y] = [a[k] as string | number, b[k] as string | number];
        if (x !== y) return x < y ? -1 : 1;
      }
      return 0;
    };
    out[t.name] = norm.sort(cmp);
  }
  return out;
}
