/**
 * Prometheus metrics on real processes: a Sentinel and a worker, each with
 * CASPARIAN_METRICS_PORT, scraped over HTTP after a job ran.
 */
import { strict as assert } from 'node:assert';
import { JobState } from '../../services/gen/casparian/v1/types';
import { faultPlugin, writeCsv } from '../helpers/data-fixtures';
import { freePort } from '../helpers/managed-proc';
import { scrape, sample } from '../helpers/metrics-scrape';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';

describe('integration: Prometheus metrics (real processes)', function () {
  this.timeout(300_000);
  const clusters = useClusters();

  clusters.it('both services serve /metrics with jobs, slots, latencies, bytes and gRPC calls', async () => {
    const [sp, wp] = [await freePort(), await freePort()];
    const c = clusters.track(await ProcCluster.start({ sentinelEnv: { CASPARIAN_METRICS_PORT: String(sp) } }));
    await c.startWorker('w1', { env: { CASPARIAN_METRICS_PORT: String(wp) } });
    await c.publish('values', faultPlugin('values.py'));
    const job = await c.waitJob((await c.submit('values', writeCsv(c.inputDir, 'm.csv', 5, 1))).id);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));

    const s = await scrape(sp);
    assert.equal(sample(s, 'casparian_jobs', { state: 'succeeded' }), 1);
    assert.equal(sample(s, 'casparian_workers_connected'), 1);
    assert.equal(sample(s, 'casparian_slots', { state: 'free' }), 2);
    assert.equal(sample(s, 'casparian_job_duration_seconds_count', { outcome: 'succeeded' }), 1);
    assert.equal(sample(s, 'casparian_dispatch_latency_seconds_count'), 1);
    assert.ok(sample(s, 'casparian_arrow_bytes_committed_total')! > 0);
    assert.ok(sample(s, 'casparian_grpc_calls_total', { method: 'SubmitJob', code: 'OK' })! >= 1);
    assert.ok(sample(s, 'casparian_grpc_calls_total', { method: 'Conclude', code: 'OK' })! >= 1);
    assert.ok(sample(s, 'casparian_process_resident_memory_bytes', { service: 'sentinel' })! > 0);

    const w = await scrape(wp);
    assert.equal(sample(w, 'casparian_slots', { state: 'busy' }), 0);
    assert.ok(sample(w, 'casparian_arrow_bytes_forwarded_total')! > 0);
    assert.notEqual(sample(w, 'casparian_env_provision_seconds_count'), undefined);
    assert.equal((await fetch(`http://127.0.0.1:${sp}/other`)).status, 404);
  });
});
