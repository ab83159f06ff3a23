/**
 * The HTTP/JSON API (services/sentinel/http/) on a real Sentinel process with
 * a real worker: every client method called through HTTP and through gRPC
 * with the same JSON gives the same JSON (or the same error), so the two
 * surfaces cannot drift; then what only HTTP has: Connect-shaped errors,
 * event streams that follow a live job, GET with ?message=, and tokens.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { JsonValue } from '@bufbuild/protobuf';
import { hashToken, newToken } from '../../services/common/auth/tokens';
import { JobState } from '../../services/gen/casparian/v1/types';
import { protoRegistry } from '../../services/common/proto-json';
import { faultPlugin, writeCsv } from '../helpers/data-fixtures';
import { grpcJson, httpJson, readEvents, SERVICE, type Outcome } from '../helpers/json-calls';
import { freePort } from '../helpers/managed-proc';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { REPO_ROOT, SHARED_LOCKFILE } from '../helpers/python-env';
import { waitFor } from '../helpers/wait';


/** Every curl command of README.md's HTTP section, continuations joined. */
function readmeCurlLines(): string[] {
  const text = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8').replace(/\\\n\s*/g, '');
  return text.split('\n').filter((l) => l.startsWith('curl ') && l.includes('/casparian.v1.Sentinel/'));
}

/** Drop fields that differ between two calls made a moment apart (times measured per call). */
function steady(o: Outcome): Outcome {
  return JSON.parse(JSON.stringify(o), (k, v: unknown) => (k === 'elapsedMs' || k === 'lastHeartbeatAt' ? undefined : v)) as Outcome;
}

describe('integration: HTTP/JSON API (real processes)', function () {
  this.timeout(240_000);
  const clusters = useClusters();

  clusters.it('every client method gives the same JSON over HTTP as over gRPC, results and errors alike', async () => {
    const httpPort = await freePort();
    const c = clusters.track(await ProcCluster.start({ workers: ['w1'], sentinelEnv: { CASPARIAN_HTTP_PORT: String(httpPort) } }));
    const base = `http://127.0.0.1:${httpPort}`;
    const values = faultPlugin('values.py');
    const publish = { name: 'values', version: '1.0.0', source: values, lockfile: SHARED_LOCKFILE };
    assert.ok('ok' in (await grpcJson(c.address, 'PublishPlugin', publish)));
    const input = writeCsv(c.inputDir, 'agree.csv', 4, 2);
    const submitted = (await grpcJson(c.address, 'SubmitJob', { pluginName: 'values', inputPath: input, idempotencyKey: 'agree-1' })) as { ok: { job: { id: string } } };
    const jobId = submitted.ok.job.id;
    const batch = (await grpcJson(c.address, 'SubmitJobs', { pluginName: 'values', inputPaths: [input], idempotencyKey: 'agree-batch' })) as { ok: { batchId: string; jobIds: string[] } };
    for (const id of [jobId, ...batch.ok.jobIds]) {
      const done = await c.waitJob(id, 300_000);
      assert.equal(done.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(done.error));
    }
    const scanDir = path.join(c.inputDir, 'scan');
    fs.mkdirSync(scanDir, { recursive: true });
    writeCsv(scanDir, 'one.csv', 2, 3);
    assert.ok('messages' in (await grpcJson(c.address, 'SubmitScan', { root: scanDir, glob: '*.csv', pluginName: 'values' })), 'the first scan queues the file');

    // Each method, with requests that succeed and that fail; mutations only where repeating them changes nothing.
    const cases: Record<string, JsonValue[]> = {
      PublishPlugin: [publish, { ...publish, source: `${values}\n# changed\n` }, { name: 'bad name!', version: '1' }],
      ListPlugins: [{}, { name: 'values' }],
      SubmitJob: [{ pluginName: 'values', inputPath: input, idempotencyKey: 'agree-1' }, { pluginName: 'nope', inputPath: input }, { pluginName: 'values', inputPath: '/etc/passwd' }],
      SubmitJobs: [{ pluginName: 'values', inputPaths: [input], idempotencyKey: 'agree-batch' }, { pluginName: 'values', inputPaths: [] }],
      SubmitScan: [{ root: scanDir, glob: '*.csv', pluginName: 'values' }, { root: path.join(c.inputDir, 'missing'), pluginName: 'values' }],
      GetJob: [{ jobId, includeLogs: true }, { jobId: 'no-such-job' }],
      ListJobs: [{ pluginName: 'values', state: 'JOB_STATE_SUCCEEDED' }, { batchId: batch.ok.batchId }],
      WatchJob: [{ jobId }, { jobId: 'no-such-job' }],
      WatchJobs: [{ batchId: batch.ok.batchId }],
      CancelJob: [{ jobId, reason: 'too late' }, { jobId: '' }],
      RetryJob: [{ jobId }, { jobId: 'no-such-job' }],
      FetchOutput: [{ jobId }, { jobId, outputName: 'nope' }],
      ListWorkers: [{}],
      PurgeJobs: [{ olderThanSeconds: 1, dryRun: true }, { olderThanSeconds: 0 }],
      PausePlugin: [{ name: 'values', version: '9.9.9' }, { name: 'values' }],
      ResumePlugin: [{ name: 'values', version: '1.0.0' }, { name: 'values', version: '9.9.9' }],
      ListDatasets: [{}],
      Query: [{ sql: 'select id, value from "default" order by id' }, { sql: 'drop table x' }],
      GetThroughput: [{ minutes: 5 }, { minutes: 5000 }],
    };
    const methods = protoRegistry().getService(SERVICE)!.methods.filter((m) => m.methodKind === 'unary' || m.methodKind === 'server_streaming');
    assert.deepEqual(Object.keys(cases).sort(), methods.map((m) => m.name).sort(), 'every client method has a case here');
    let errors = 0;
    for (const [method, requests] of Object.entries(cases)) {
      for (const req of requests) {
        const viaGrpc = steady(await grpcJson(c.address, method, req));
        const viaHttp = steady(await httpJson(base, method, req));
        assert.deepEqual(viaHttp, viaGrpc, `${method} ${JSON.stringify(req)}`);
        if ('error' in viaGrpc) errors++;
      }
    }
    assert.ok(errors >= 15, `most methods were also compared on an error (${errors})`);
    // The comparisons saw real data: a job with its output, a query with rows.
    const job = (await httpJson(base, 'GetJob', { jobId })) as { ok: { job: { state: string; outputs: { rows: string }[] } } };
    assert.equal(job.ok.job.state, 'JOB_STATE_SUCCEEDED');
    assert.equal(job.ok.job.outputs[0].rows, '4', 'uint64 is a string in proto3 JSON');

    // The README's curl lines, as written, against this Sentinel (CancelJob on a job still running).
    const sleeper = await c.submit('values', writeCsv(c.inputDir, 'sleeper.csv', 2, 5, ['# sleep=30']));
    const lines = readmeCurlLines();
    assert.ok(lines.length >= 5, `found ${lines.length} curl lines in README.md`);
    for (const line of lines) {
      const cmd = line.replaceAll('localhost:50080', `127.0.0.1:${httpPort}`).replaceAll('JOB_ID', line.includes('/CancelJob') ? sleeper.id : jobId);
      const r = spawnSync('sh', ['-c', `${cmd} -w '\n%{http_code}'`], { encoding: 'utf8', env: { ...process.env, CASPARIAN_TOKEN: 'unused-without-tokens' }, timeout: 30_000 });
      const httpStatus = r.stdout.trim().split('\n').pop();
      assert.equal([r.status, httpStatus].join(' '), '0 200', `${line}\n${r.stdout}${r.stderr}`);
      assert.ok(!r.stdout.includes('event: error'), r.stdout);
    }
    assert.equal((await c.waitJob(sleeper.id, 30_000)).state, JobState.JOB_STATE_CANCELLED, 'the README CancelJob line cancelled it');
  });

  clusters.it('errors in Connect shape; event streams follow a live job and stop with their client; GET ?message=; tokens as on gRPC', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-http-'));
    const client = newToken();
    const worker = newToken();
    const tokens = path.join(dir, 'tokens');
    fs.writeFileSync(tokens, `client ${hashToken(client)} alice\nworker ${hashToken(worker)} pool\n`);
    const [httpPort, metricsPort] = [await freePort(), await freePort()];
    const sentinelEnv = { CASPARIAN_HTTP_PORT: String(httpPort), CASPARIAN_METRICS_PORT: String(metricsPort), CASPARIAN_TOKENS_FILE: tokens };
    const c = clusters.track(await ProcCluster.start({ sentinelEnv, clientToken: client }));
    await c.startWorker('w1', { env: { CASPARIAN_TOKEN: worker } });
    const base = `http://127.0.0.1:${httpPort}`;
    const post = (method: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${base}/${SERVICE}/${method}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${client}`, ...headers }, body });

    // Tokens: the same check and words as the gRPC port.
    assert.deepEqual(await httpJson(base, 'ListJobs', {}), { error: { code: 'unauthenticated', message: 'ListJobs needs a client token: send "authorization: Bearer TOKEN" (casparian: --token or CASPARIAN_TOKEN)' } });
    const wrongRole = await httpJson(base, 'ListJobs', {}, worker);
    assert.equal('error' in wrongRole && wrongRole.error.code, 'permission_denied');
    assert.equal((await post('ListJobs', '{}', { authorization: 'Bearer nope' })).status, 401);
    // Bad requests: Connect's codes and HTTP statuses, with messages that say what to fix.
    const unknownField = await post('ListJobs', '{"stat":"JOB_STATE_FAILED"}');
    assert.equal(unknownField.status, 400);
    assert.match(((await unknownField.json()) as { message: string }).message, /not a valid casparian\.v1\.ListJobsRequest: .*"stat" is unknown/);
    const notJson = await post('ListJobs', '{');
    assert.deepEqual([notJson.status, ((await notJson.json()) as { code: string }).code], [400, 'invalid_argument']);
    const wrongType = await post('ListJobs', '{}', { 'content-type': 'text/plain' });
    assert.match(((await wrongType.json()) as { message: string }).message, /Content-Type: application\/json/);
    const noMethod = await post('Dispatch', '{}');
    assert.deepEqual([noMethod.status, ((await noMethod.json()) as { code: string }).code], [501, 'unimplemented'], 'worker streams are not served over HTTP');
    const notFound = await post('GetJob', '{"jobId":"x"}');
    assert.deepEqual([notFound.status, await notFound.json()], [404, { code: 'not_found', message: 'job x does not exist' }]);
    const streamWithoutAccept = await post('WatchJob', '{"jobId":"x"}');
    assert.match(((await streamWithoutAccept.json()) as { message: string }).message, /text\/event-stream/);

    // A live job over WatchJob's event stream: each state as it happens, then the end.
    await c.publish('values', faultPlugin('values.py'));
    const job = await c.submit('values', writeCsv(c.inputDir, 'live.csv', 3, 1, ['# sleep=2']));
    const res = await post('WatchJob', JSON.stringify({ jobId: job.id }), { accept: 'text/event-stream' });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const events = readEvents(await res.text());
    assert.ok('messages' in events && !('error' in events), JSON.stringify(events));
    const states = events.messages.map((m) => (m as { job?: { state?: string } }).job?.state).filter(Boolean);
    assert.ok(states.includes('JOB_STATE_RUNNING'), `saw ${states.join(', ')}`);
    assert.equal(states.at(-1), 'JOB_STATE_SUCCEEDED');

    // GET with the request in ?message= (EventSource's way); the token still applies.
    const url = `${base}/${SERVICE}/WatchJob?message=${encodeURIComponent(JSON.stringify({ jobId: job.id }))}`;
    assert.equal((await fetch(url)).status, 401);
    const viaGet = readEvents(await (await fetch(url, { headers: { authorization: `Bearer ${client}` } })).text());
    assert.ok(!('error' in viaGet) && 'messages' in viaGet, JSON.stringify(viaGet));
    assert.equal((viaGet.messages.at(-1) as { job: { state: string } }).job.state, 'JOB_STATE_SUCCEEDED');

    // A client that leaves an open stream (WatchJobs of every job never ends) ends its call on the server.
    const ac = new AbortController();
    const open = await fetch(`${base}/${SERVICE}/WatchJobs`, { method: 'POST', signal: ac.signal, headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${client}` }, body: '{}' });
    assert.equal(open.status, 200);
    ac.abort();
    await waitFor('the server to count the cancelled stream', async () => /casparian_http_calls_total\{method="WatchJobs",code="CANCELLED"[^}]*\} 1/.test(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()), 10_000, 200);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
