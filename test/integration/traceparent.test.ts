/**
 * W3C trace context end to end, on a real Sentinel and Worker (processes,
 * JSON logs at debug level): a `traceparent` sent with SubmitJob or
 * SubmitJobs is kept on the job (GetJob, ListJobs), is on the Sentinel's and
 * the worker's log lines about the job, and reaches the plugin as
 * TRACEPARENT. An invalid one is ignored, not refused.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { tableFromIPC } from 'apache-arrow';
import { SentinelClient as RawSentinelClient, SubmitJobRequest, SubmitJobsRequest } from '../../services/gen/casparian/v1/sentinel';
import { JobState } from '../../services/gen/casparian/v1/types';
import { REPO_ROOT } from '../helpers/python-env';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const TRACEPARENT = `00-${TRACE_ID}-b7ad6b7169203331-01`;
const ECHO = fs.readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'plugins', 'traceparent_echo.py'), 'utf8');

function withTraceparent(value: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('traceparent', value);
  return md;
}

/** The JSON lines of a process log. */
function jsonLines(file: string): Record<string, unknown>[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('integration: traceparent from submission to plugin (real processes)', function () {
  this.timeout(600_000);
  const clusters = useClusters();

  clusters.it('SubmitJob with traceparent: GetJob and ListJobs return it, Sentinel and worker log lines carry its trace id, the plugin sees TRACEPARENT', async () => {
    const c = clusters.track(await ProcCluster.start({ workers: ['w1'], slots: 2, logLevel: 'debug' }));
    await c.publish('echo', ECHO);
    const raw = new RawSentinelClient(c.address, grpc.credentials.createInsecure());
    try {
      const submit = (input: string, traceparent: string) =>
        new Promise<string>((resolve, reject) =>
          raw.submitJob(SubmitJobRequest.fromPartial({ pluginName: 'echo', inputPath: c.input(input, 'x\n') }), withTraceparent(traceparent), (err, res) =>
            err ? reject(err) : resolve(res!.job!.id),
          ),
        );
      const traced = await submit('traced.txt', TRACEPARENT);
      const invalid = await submit('invalid.txt', `00-${'0'.repeat(32)}-b7ad6b7169203331-01`);
      const batchIds = await new Promise<string[]>((resolve, reject) =>
        raw.submitJobs(SubmitJobsRequest.fromPartial({ pluginName: 'echo', inputPaths: [c.input('batch.txt', 'x\n')] }), withTraceparent(TRACEPARENT), (err, res) =>
          err ? reject(err) : resolve(res!.jobIds),
        ),
      );

      for (const id of [traced, invalid, ...batchIds]) {
        const job = await c.waitJob(id, 300_000);
        assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, `${id}: ${JSON.stringify(job.error)}\n${c.dumpLogs()}`);
      }
      assert.equal((await c.getJob(traced)).traceparent, TRACEPARENT);
      assert.equal((await c.getJob(batchIds[0])).traceparent, TRACEPARENT, 'a SubmitJobs job keeps it too');
      assert.equal((await c.getJob(invalid)).traceparent, '', 'an invalid traceparent is ignored, the job still runs');
      const listed = (await c.client.listJobs({ state: JobState.JOB_STATE_UNSPECIFIED, pluginName: 'echo', pageSize: 10, pageToken: '', batchId: '' })).jobs;
      assert.equal(listed.find((j) => j.id === traced)?.traceparent, TRACEPARENT);

      // The plugin's process had it in its environment.
      const seen = async (id: string) => String(tableFromIPC((await c.client.fetchOutput(id)).ipc).toArray()[0].traceparent);
      assert.equal(await seen(traced), TRACEPARENT);
      assert.equal(await seen(invalid), '');

      // Log lines about the job: the Sentinel's (submit, dispatch, commit) and the worker's (attempt, bridge).
      await c.stopGracefully();
      const about = (file: string, id: string) => jsonLines(file).filter((l) => l.jobId === id);
      const sentinel = about(c.sentinel!.logFile, traced);
      for (const msg of ['job submitted', 'dispatched', 'attempt committed']) {
        const line = sentinel.find((l) => l.msg === msg);
        assert.ok(line, `the Sentinel logged "${msg}" for the job:\n${sentinel.map((l) => JSON.stringify(l)).join('\n')}`);
        assert.equal(line.trace_id, TRACE_ID, `"${msg}" carries the trace id`);
        assert.equal(line.traceparent, TRACEPARENT);
      }
      assert.ok(sentinel.every((l) => l.trace_id === TRACE_ID), 'every Sentinel line about the job carries the trace id');
      const worker = about(c.worker('w1').logFile, traced);
      assert.ok(worker.some((l) => l.msg === 'attempt started'), 'the worker logged the attempt');
      assert.ok(worker.every((l) => l.trace_id === TRACE_ID), `every worker line about the attempt carries the trace id:\n${worker.map((l) => JSON.stringify(l)).join('\n')}`);
      assert.ok(about(c.sentinel!.logFile, invalid).every((l) => l.trace_id === undefined), 'the job without a trace context has no trace id');
      assert.ok(jsonLines(c.sentinel!.logFile).some((l) => l.level === 'debug' && /traceparent ignored: invalid/.test(String(l.msg))), 'the invalid header was logged at debug');
    } finally {
      raw.close();
    }
  });
});
