/**
 * Hostile input: a seeded fuzzer sends random but well-formed requests to
 * every method of the Sentinel, streams included, on a real Sentinel process.
 * Every call ends with a proper status (never INTERNAL or UNKNOWN), and the
 * Sentinel still serves afterwards. CASPARIAN_FUZZ_SEED and
 * CASPARIAN_FUZZ_PER_METHOD change the run (default seed 8, 16 per method).
 * Also: a uint64 past 2^53 and a message over the size limit, each with its
 * own status.
 */
import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { create, toBinary } from '@bufbuild/protobuf';
import { channelOptions, MAX_MESSAGE_BYTES } from '../../services/common/grpc-server';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { callRaw, RequestFuzzer, rng, serviceMethods } from '../helpers/request-fuzz';

const SERVICE = 'casparian.v1.Sentinel';
const SEED = Number(process.env.CASPARIAN_FUZZ_SEED || 8);
const PER_METHOD = Number(process.env.CASPARIAN_FUZZ_PER_METHOD || 16);
/** Statuses that mean the server failed, not the request. */
const SERVER_FAULTS = [grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.DATA_LOSS, grpc.status.UNIMPLEMENTED];

describe('integration: request fuzzer (real Sentinel process)', function () {
  this.timeout(300_000);
  const clusters = useClusters();

  clusters.it(`${PER_METHOD} random requests per method (seed ${SEED}): every one gets a proper status; the Sentinel stays SERVING`, async () => {
    const c = clusters.track(await ProcCluster.start());
    const client = new grpc.Client(c.address, grpc.credentials.createInsecure(), channelOptions());
    const fuzz = new RequestFuzzer(rng(SEED));
    const methods = serviceMethods(SERVICE);
    assert.ok(methods.length >= 15, `only ${methods.length} methods found`);
    const faults: string[] = [];
    const seen = new Map<string, number>();
    try {
      for (const method of methods) {
        const streaming = method.methodKind !== 'unary';
        const calls = Array.from({ length: PER_METHOD }, () => {
          const messages = Array.from({ length: streaming ? 1 + Math.floor(Math.random() * 3) : 1 }, () => fuzz.bytes(method.input));
          return { messages, done: callRaw(client, SERVICE, method, messages, streaming ? 1_500 : 5_000) };
        });
        for (const { messages, done } of calls) {
          const { code, details } = await done;
          seen.set(grpc.status[code], (seen.get(grpc.status[code]) ?? 0) + 1);
          if (SERVER_FAULTS.includes(code)) faults.push(`${method.name} → ${grpc.status[code]}: ${details} (${messages.map((m) => m.toString('hex')).join(' ')})`);
        }
      }
      assert.deepEqual(faults, [], 'calls answered with a server fault');
      process.stderr.write(`      statuses: ${[...seen].map(([k, n]) => `${k} ${n}`).join(', ')}\n`);

      // Still serving, and still doing its job.
      const health = await new Promise<number>((resolve, reject) =>
        client.makeUnaryRequest('/grpc.health.v1.Health/Check', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), (err, res) => (err ? reject(err) : resolve(res![1] ?? 0))),
      );
      assert.equal(health, 1, 'Health.Check says SERVING');
      await c.client.listWorkers({});
    } finally {
      client.close();
    }
    assert.ok(c.sentinel!.alive, 'the Sentinel process is alive');
  });

  clusters.it('a uint64 above 2^53 in a request is INVALID_ARGUMENT naming the cause, not INTERNAL', async () => {
    const c = clusters.track(await ProcCluster.start());
    const client = new grpc.Client(c.address, grpc.credentials.createInsecure(), channelOptions());
    try {
      const conclude = serviceMethods(SERVICE).find((m) => m.name === 'Conclude')!;
      const big = Buffer.from(
        toBinary(conclude.input, create(conclude.input, { msg: { case: 'verdict', value: { status: 1, metrics: { rows: 2n ** 60n } } } } as never)),
      );
      const r = await callRaw(client, SERVICE, conclude, [big], 5_000);
      assert.equal(r.code, grpc.status.INVALID_ARGUMENT, r.details);
      assert.match(r.details, /the Conclude message does not decode: .*MAX_SAFE_INTEGER/);
    } finally {
      client.close();
    }
  });

  clusters.it('a request over the 16 MiB message limit is RESOURCE_EXHAUSTED saying so, unary and streaming; the Sentinel stays SERVING', async () => {
    const c = clusters.track(await ProcCluster.start());
    // A client that sends whatever it is given: the limit must hold at the server.
    const client = new grpc.Client(c.address, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': -1 });
    try {
      const methods = serviceMethods(SERVICE);
      const publish = methods.find((m) => m.name === 'PublishPlugin')!;
      const conclude = methods.find((m) => m.name === 'Conclude')!;
      const huge = Buffer.from(toBinary(publish.input, create(publish.input, { name: 'big', source: 'x'.repeat(MAX_MESSAGE_BYTES + 1024) } as never)));
      const chunk = Buffer.from(toBinary(conclude.input, create(conclude.input, { msg: { case: 'chunk', value: { data: Buffer.alloc(MAX_MESSAGE_BYTES + 1024) } } } as never)));
      for (const [method, message] of [[publish, huge], [conclude, chunk]] as const) {
        const r = await callRaw(client, SERVICE, method, [message], 20_000);
        assert.equal(r.code, grpc.status.RESOURCE_EXHAUSTED, `${method.name}: ${grpc.status[r.code]} ${r.details}`);
        assert.match(r.details, new RegExp(`larger than max \\(${message.length} vs ${MAX_MESSAGE_BYTES}\\)`), `${method.name}: ${r.details}`);
      }
      assert.equal((await c.client.listPlugins({})).plugins.length, 0, 'nothing was published');
      await c.client.listWorkers({});
    } finally {
      client.close();
    }
    assert.ok(c.sentinel!.alive);
  });
});
