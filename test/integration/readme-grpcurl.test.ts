/**
 * Every grpcurl command in README.md, run against real Sentinels the way
 * grpcurl would run it: the method and its message types come from server
 * reflection only, the -d JSON is parsed with proto3 JSON rules (an unknown
 * field or a bad enum name fails, as in grpcurl), -H headers go as metadata,
 * -cacert/-cert/-key select TLS. `list` and `describe` go to reflection. The
 * README's placeholders are filled in: JOB_ID and BATCH_ID by jobs made
 * earlier in the same run (RetryJob's by a cancelled job, which it can
 * replay), /data/… by files under the Sentinel's input root, $CASPARIAN_TOKEN
 * by a client token. A README grpcurl line naming a method or a field that
 * does not exist makes this test fail.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { fromBinary, fromJson, toBinary, toJson, type DescMessage, type DescMethod } from '@bufbuild/protobuf';
import { hashToken, newToken } from '../../services/common/auth/tokens';
import { Cluster } from '../helpers/cluster';
import { grpcurlLines, parseGrpcurl, type GrpcurlLine } from '../helpers/grpcurl-lines';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { REPO_ROOT } from '../helpers/python-env';
import { ReflectionClient } from '../helpers/reflection-registry';
import { makeTestCerts, type TestCerts } from '../helpers/tls-certs';

/** sales_orders writes its rows to the dataset `orders` (the README's Query reads it). */
const SALES_ORDERS = `import casparian
import pyarrow as pa

def parse(path):
    rows = [l.strip().split(",") for l in open(path) if l.strip() and not l.startswith("#")]
    return casparian.Output("orders", pa.table({"id": [int(r[0]) for r in rows], "amount": [float(r[1]) for r in rows]}))
`;

/** The test server certificate's name (the README's hosts are examples; the Sentinels listen on 127.0.0.1). */
const TLS_NAME = { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' };

interface Target {
  address: string;
  creds: grpc.ChannelCredentials;
}

/** Run one parsed grpcurl line; returns the response messages as JSON (a call) or what reflection said (list, describe). */
async function perform(cmd: GrpcurlLine, target: Target, fill: (s: string) => string, timeoutMs = 60_000): Promise<unknown[]> {
  const md = new grpc.Metadata();
  for (const [k, v] of cmd.headers) md.set(k, fill(v));
  const refl = new ReflectionClient(target.address, target.creds, md, TLS_NAME);
  try {
    if (cmd.verb.kind === 'list') {
      const services = await refl.listServices();
      if (!cmd.verb.service) return services;
      const svc = (await refl.registryFor(cmd.verb.service)).getService(cmd.verb.service);
      assert.ok(svc, `service ${cmd.verb.service}`);
      return svc.methods.map((m) => m.name);
    }
    if (cmd.verb.kind === 'describe') {
      const desc = (await refl.registryFor(cmd.verb.symbol)).get(cmd.verb.symbol);
      assert.ok(desc, `describe ${cmd.verb.symbol}: no such symbol`);
      return [desc.toString()];
    }
    const { service, method } = cmd.verb;
    const svc = (await refl.registryFor(service)).getService(service);
    assert.ok(svc, `line ${cmd.line}: no service ${service}`);
    const m = svc.methods.find((x) => x.name === method);
    assert.ok(m, `line ${cmd.line}: ${service} has no method ${method} (has ${svc.methods.map((x) => x.name).join(', ')})`);
    const request = toBinary(m.input, fromJson(m.input, JSON.parse(fill(cmd.data ?? '{}'))));
    return await invoke(target, svc.typeName, m, request, md, timeoutMs);
  } finally {
    refl.close();
  }
}

function invoke(target: Target, service: string, m: DescMethod, request: Uint8Array, md: grpc.Metadata, timeoutMs: number): Promise<unknown[]> {
  const client = new grpc.Client(target.address, target.creds, TLS_NAME);
  const pathName = `/${service}/${m.name}`;
  const ser = (b: Uint8Array): Buffer => Buffer.from(b);
  const de = (b: Buffer): unknown => toJson(m.output as DescMessage, fromBinary(m.output, b));
  const deadline = Date.now() + timeoutMs;
  return new Promise<unknown[]>((resolve, reject) => {
    const done = (err: Error | null, out: unknown[]): void => {
      client.close();
      if (err) reject(err);
      else resolve(out);
    };
    if (m.methodKind === 'unary') {
      client.makeUnaryRequest(pathName, ser, de, request, md, { deadline }, (err, res) => done(err, [res]));
    } else if (m.methodKind === 'server_streaming') {
      const out: unknown[] = [];
      const call = client.makeServerStreamRequest(pathName, ser, de, request, md, { deadline });
      call.on('data', (r: unknown) => out.push(r));
      call.on('error', (e: Error) => done(e, out));
      call.on('end', () => done(null, out));
    } else {
      done(new Error(`${pathName}: a ${m.methodKind} method is not a grpcurl one-liner`), []);
    }
  });
}

describe('integration: every grpcurl command in README.md, through server reflection', function () {
  this.timeout(180_000);
  const clusters = useClusters();
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  let dir: string;
  let certs: TestCerts;
  let plain: Cluster;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-grpcurl-'));
    certs = makeTestCerts(path.join(dir, 'certs'));
    plain = await Cluster.start({ workers: [{ slots: 2 }] });
  });
  after(async () => {
    await plain?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('finds the grpcurl commands: continuations joined, -d, -H and TLS flags parsed', () => {
    const lines = grpcurlLines(readme);
    assert.ok(lines.length >= 15, `found ${lines.length}`);
    const submit = lines.find((l) => l.verb.kind === 'call' && l.verb.method === 'SubmitJob');
    assert.deepEqual(submit?.target, 'localhost:50051');
    assert.equal(submit?.data, '{"plugin_name":"sales_orders","input_path":"/data/north_01.csv"}');
    const tokenLine = parseGrpcurl(`grpcurl -cacert ca.pem -H "authorization: Bearer $T" h:1 a.B/C   # note`, 1);
    assert.deepEqual([tokenLine.headers, tokenLine.cacert, tokenLine.plaintext, tokenLine.verb], [[['authorization', 'Bearer $T']], 'ca.pem', false, { kind: 'call', service: 'a.B', method: 'C' }]);
  });

  it('a bad method or a bad JSON field name fails, as it would in grpcurl', async () => {
    const target = { address: plain.address, creds: grpc.credentials.createInsecure() };
    await assert.rejects(perform(parseGrpcurl(`grpcurl -plaintext -d '{}' x casparian.v1.Sentinel/NoSuchMethod`, 1), target, (s) => s), /has no method NoSuchMethod/);
    await assert.rejects(perform(parseGrpcurl(`grpcurl -plaintext -d '{"jobid":"x"}' x casparian.v1.Sentinel/GetJob`, 1), target, (s) => s), /jobid/);
    await assert.rejects(perform(parseGrpcurl(`grpcurl -plaintext -d '{"state":"JOB_STATE_NOPE"}' x casparian.v1.Sentinel/ListJobs`, 1), target, (s) => s), /JOB_STATE_NOPE/);
  });

  clusters.it('runs each README grpcurl command against a real Sentinel (plaintext; TLS with a client certificate or a token)', async () => {
    const token = newToken();
    const tokens = path.join(dir, 'tokens');
    fs.writeFileSync(tokens, `client ${hashToken(token)} readme\n`);
    const pem = (f: string): Buffer => fs.readFileSync(f);
    const tls = clusters.track(
      await ProcCluster.start({
        sentinelEnv: { CASPARIAN_TLS_CERT: certs.serverCert, CASPARIAN_TLS_KEY: certs.serverKey, CASPARIAN_TLS_CA: certs.ca, CASPARIAN_TOKENS_FILE: tokens },
        clientCredentials: grpc.credentials.createSsl(pem(certs.ca)),
        clientToken: token,
      }),
    );

    // What the README's commands refer to: the plugin, /data/… files, a job to replay.
    await plain.publish('sales_orders', SALES_ORDERS);
    const dataDir = plain.inputDir;
    for (const f of ['north_01.csv', 'north_02.csv', 'incoming/a.csv', 'incoming/b.csv']) plain.input(f, '# id,amount\n1,2.5\n2,4\n');
    const replayable = (await plain.client.submitJob({ pluginName: 'sales_orders', pluginVersion: '', inputPath: path.join(dataDir, 'north_02.csv'), idempotencyKey: '', maxAttempts: 0, priority: 0, timeouts: undefined, backoff: undefined, notBefore: new Date(Date.now() + 3_600_000) })).job!;
    await plain.client.cancelJob({ jobId: replayable.id, reason: 'for the README RetryJob line' });

    const ids: Record<string, string> = {};
    const fill = (method: string) => (s: string): string =>
      s
        .replace(/JOB_ID/g, method === 'RetryJob' ? replayable.id : ids.JOB_ID ?? 'JOB_ID')
        .replace(/BATCH_ID/g, ids.BATCH_ID ?? 'BATCH_ID')
        .replace(/"\/data\//g, `"${dataDir}/`)
        .replace(/\$CASPARIAN_TOKEN\b/g, token);

    const lines = grpcurlLines(readme);
    const seen: string[] = [];
    for (const cmd of lines) {
      const secure = !cmd.plaintext;
      if (secure) assert.ok(cmd.cacert, `line ${cmd.line}: TLS without -cacert cannot be checked here: ${cmd.text}`);
      const target: Target = secure
        ? { address: tls.address, creds: grpc.credentials.createSsl(pem(certs.ca), cmd.key ? pem(certs.clientKey) : null, cmd.cert ? pem(certs.clientCert) : null) }
        : { address: plain.address, creds: grpc.credentials.createInsecure() };
      const method = cmd.verb.kind === 'call' ? cmd.verb.method : cmd.verb.kind;
      let out: any[];
      try {
        out = await perform(cmd, target, fill(method));
      } catch (e) {
        throw new Error(`README.md line ${cmd.line}: ${cmd.text}\n  failed: ${(e as Error).message}`);
      }
      seen.push(`${cmd.line}:${method}`);
      const first = out[0];
      if (method === 'SubmitJob') ids.JOB_ID = first?.job?.id ?? assert.fail(`line ${cmd.line}: ${JSON.stringify(out)}`);
      if (method === 'SubmitJobs') ids.BATCH_ID = first.batchId;
      if (method === 'list' && cmd.verb.kind === 'list' && !cmd.verb.service) assert.ok(out.includes('casparian.v1.Sentinel'), `line ${cmd.line}: ${out.join(', ')}`);
      if (method === 'describe') assert.match(out[0], /Sentinel/);
      if (method === 'WatchJob') assert.equal(out.at(-1).job.state, 'JOB_STATE_SUCCEEDED', `line ${cmd.line}: ${JSON.stringify(out.at(-1))}`);
      if (method === 'WatchJobs') assert.equal(out.at(-1).counts.succeeded, 2, `line ${cmd.line}: ${JSON.stringify(out.at(-1))}`);
      if (method === 'SubmitScan') assert.deepEqual([out.at(-1).done, out.at(-1).enqueued], [true, 2]);
      if (method === 'GetJob') assert.equal(first.job.id, ids.JOB_ID);
      if (method === 'RetryJob') assert.equal(first.job.state, 'JOB_STATE_QUEUED');
      if (method === 'ListDatasets') assert.ok(first.datasets.some((d: { name: string }) => d.name === 'orders'), JSON.stringify(first));
      if (method === 'Query') assert.equal(out.at(-1).summary.rows, '1');
      if (method === 'Check') assert.equal(first.status, 'SERVING');
      if (method === 'ListWorkers') assert.ok(first, 'ListWorkers answered');
    }
    // The commands the README is known to hold, so a parser that silently skips lines is noticed.
    for (const m of ['list', 'describe', 'SubmitJob', 'WatchJob', 'SubmitJobs', 'WatchJobs', 'SubmitScan', 'GetJob', 'ListJobs', 'RetryJob', 'ResumePlugin', 'ListDatasets', 'Query', 'Check', 'ListWorkers']) {
      assert.ok(seen.some((s) => s.endsWith(`:${m}`)), `${m} run (ran ${seen.join(' ')})`);
    }
  });
});
