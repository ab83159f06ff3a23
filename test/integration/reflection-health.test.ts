/**
 * What grpcurl relies on: server reflection (from the buf-built descriptor
 * set) and grpc.health.v1, exercised through a real reflection client, plus a
 * SubmitJob made purely from reflected descriptors with JSON-shaped input.
 * Health during a drain is tested on real processes: test/faults/drain-health.test.ts.
 */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { GrpcReflection } from 'grpc-js-reflection-client';
import { Cluster } from '../helpers/cluster';

function unaryCall(client: grpc.Client, method: string, req: object): Promise<any> {
  return new Promise((resolve, reject) =>
    (client as unknown as Record<string, Function>)[method](req, (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res))),
  );
}

describe('integration: reflection and health (what grpcurl needs)', function () {
  this.timeout(30_000);
  let cluster: Cluster;
  before(async () => {
    cluster = await Cluster.start({ workers: [] });
  });
  after(() => cluster?.stop());

  it('lists the Sentinel, health and reflection services', async () => {
    const r = new GrpcReflection(cluster.address, grpc.credentials.createInsecure());
    const services = await r.listServices();
    for (const s of ['casparian.v1.Sentinel', 'grpc.health.v1.Health']) assert.ok(services.includes(s), `${s} in ${services.join(', ')}`);
    const methods = (await r.listMethods('casparian.v1.Sentinel')).map((m) => m.name);
    for (const m of ['SubmitJob', 'GetJob', 'ListJobs', 'WatchJob', 'CancelJob', 'FetchOutput', 'PublishPlugin', 'ListPlugins', 'ListWorkers', 'Dispatch', 'Conclude']) {
      assert.ok(methods.includes(m), `method ${m} in ${methods.join(', ')}`);
    }
  });

  it('calls SubmitJob and GetJob through reflected descriptors only (like grpcurl -d)', async () => {
    await cluster.publish('reflected', 'def parse(path):\n    return None\n', { lockfile: 'pyarrow==25.0.1\n' });
    const r = new GrpcReflection(cluster.address, grpc.credentials.createInsecure());
    const descriptor = await r.getDescriptorBySymbol('casparian.v1.Sentinel');
    const pkg = descriptor.getPackageObject({ keepCase: true, longs: String, enums: String, defaults: true }) as any;
    const Client = pkg.casparian.v1.Sentinel as typeof grpc.Client;
    const client = new Client(cluster.address, grpc.credentials.createInsecure());
    try {
      const input = path.join(cluster.inputDir, 'x.csv');
      const res = await unaryCall(client, 'SubmitJob', { plugin_name: 'reflected', input_path: input, idempotency_key: 'refl-1' });
      assert.equal(res.job.plugin_name, 'reflected');
      assert.equal(res.job.state, 'JOB_STATE_QUEUED');
      assert.equal(res.created, true);
      const got = await unaryCall(client, 'GetJob', { job_id: res.job.id });
      assert.equal(got.job.id, res.job.id);
      assert.equal(got.job.input_path, input);
    } finally {
      client.close();
    }
  });

  it('serves grpc.health.v1 Check: SERVING for the server and the Sentinel service, NOT_FOUND for an unknown service', async () => {
    const r = new GrpcReflection(cluster.address, grpc.credentials.createInsecure());
    const pkg = (await r.getDescriptorBySymbol('grpc.health.v1.Health')).getPackageObject({ keepCase: true, enums: String }) as any;
    const client = new (pkg.grpc.health.v1.Health as typeof grpc.Client)(cluster.address, grpc.credentials.createInsecure());
    try {
      assert.equal((await unaryCall(client, 'Check', { service: '' })).status, 'SERVING');
      assert.equal((await unaryCall(client, 'Check', { service: 'casparian.v1.Sentinel' })).status, 'SERVING');
      await assert.rejects(unaryCall(client, 'Check', { service: 'no.such.Service' }), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
    } finally {
      client.close();
    }
  });
});
