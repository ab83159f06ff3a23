/**
 * Input files and expected outputs of the fault fixtures in
 * test/fixtures/plugins/faults/ (most use values.py: `id,value` lines in,
 * id, value and doubled value out).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JobState, type Job } from '../../services/gen/casparian/v1/types';
import { REPO_ROOT } from './python-env';
import type { TestCluster } from './test-cluster';

export const FAULT_PLUGINS = path.join(REPO_ROOT, 'test', 'fixtures', 'plugins', 'faults');

/** The source of a fault fixture plugin, e.g. faultPlugin('values.py'). */
/** The lineage columns the Sentinel appends to every committed output (services/sentinel/py/output_rules.py). */
export const LINEAGE_COLUMNS = ['_cf_job_id', '_cf_source_hash', '_cf_plugin_version'] as const;

export function faultPlugin(file: string): string {
  return fs.readFileSync(path.join(FAULT_PLUGINS, file), 'utf8');
}

/** Write an `id,value` CSV with `n` rows (after `header` lines such as "# sleep=3"); returns its path. */
export function writeCsv(dir: string, name: string, n: number, seed = 0, header: string[] = []): string {
  const file = path.join(dir, name);
  const lines = [...header, '# id,value'];
  for (let k = 0; k < n; k++) lines.push(`${seed * 1000 + k},${seed + k * 0.5}`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/**
 * Run one quick `values` job so the shared pyarrow env exists (the first
 * provision of a test run takes a while; later calls are quick).
 */
export async function warmUp(c: TestCluster & { dumpLogs?: () => string }, plugin = 'values'): Promise<Job> {
  const file = writeCsv(c.inputDir, `warm-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.csv`, 3);
  const job = await c.waitJob((await c.submit(plugin, file)).id, 600_000);
  if (job.state !== JobState.JOB_STATE_SUCCEEDED) throw new Error(`warm-up job failed: ${JSON.stringify(job.error)}\n${c.dumpLogs?.() ?? ''}`);
  return job;
}

/** Fetch a `values` job's output and compare it with what writeCsv(…, n, seed) wrote. Returns a problem or ''. */
export async function checkValues(c: TestCluster, jobId: string, n: number, seed: number): Promise<string> {
  const { tableFromIPC } = await import('apache-arrow');
  const { ipc, info } = await c.client.fetchOutput(jobId);
  if (info?.rows !== n) return `job ${jobId}: output has ${info?.rows} rows, expected ${n}`;
  const rows = tableFromIPC(ipc).toArray();
  for (let k = 0; k < n; k++) {
    const r = rows[k];
    const id = seed * 1000 + k;
    const value = seed + k * 0.5;
    if (Number(r.id) !== id || r.value !== value || r.doubled !== value * 2) {
      return `job ${jobId} row ${k}: got ${JSON.stringify([Number(r.id), r.value, r.doubled])}, expected ${JSON.stringify([id, value, value * 2])}`;
    }
  }
  return '';
}
