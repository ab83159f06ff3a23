/**
 * The CLI's SentinelClient over real grpc-js channels, against stand-in
 * Sentinel servers on loopback that answer as a dying replica does
 * (UNAVAILABLE after the call reached them) or as a live one: which calls it
 * sends again to the next address, and which it does not because they may
 * have been carried out (a submit without an idempotency key, a cancel). And
 * an address that refuses connections: nothing was sent there, so even a
 * submit without a key moves on.
 */
import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { JobState } from '../../services/gen/casparian/v1/types';
import { SentinelClient } from '../../tools/cli/client';
import { freePort } from '../helpers/managed-proc';
import { StandInSentinel } from '../helpers/stand-in-sentinel';

const submit = { pluginName: 'p', inputPath: '/in/x.csv' };

describe('integration: SentinelClient failover over real channels', () => {
  let dying: StandInSentinel;
  let live: StandInSentinel;
  const clients: SentinelClient[] = [];
  const client = (addresses: string[]): SentinelClient => {
    const c = new SentinelClient(addresses, 5_000);
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    dying = await StandInSentinel.start({ dying: true });
    live = await StandInSentinel.start();
  });
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await Promise.all([dying.stop(), live.stop()]);
  });

  it('sends a read, and a submit with an idempotency key, on to the next address after UNAVAILABLE', async () => {
    await client([dying.address, live.address]).listJobs({});
    await client([dying.address, live.address]).submitJob({ ...submit, idempotencyKey: 'k1' });
    assert.deepEqual(dying.calls, ['listJobs', 'submitJob']);
    assert.deepEqual(live.calls, ['listJobs', 'submitJob']);
  });

  it('does not send a submit without a key, or a cancel, anywhere else once it may have reached a Sentinel', async () => {
    await assert.rejects(client([dying.address, live.address]).submitJob(submit), (e: grpc.ServiceError) =>
      e.code === grpc.status.UNAVAILABLE && e.details === `replica going away (at ${dying.address}; not sent to another address, as ${dying.address} may have carried it out)`,
    );
    await assert.rejects(client([dying.address, live.address]).cancelJob({ jobId: 'j1' }), /replica going away/);
    assert.deepEqual(dying.calls, ['submitJob', 'cancelJob']);
    assert.deepEqual(live.calls, []);
  });

  it('passes over an address that refuses connections, for any call, and stays on the one that answered', async () => {
    const refused = `127.0.0.1:${await freePort()}`;
    const c = client([refused, live.address]);
    const res = await c.submitJob(submit);
    assert.equal(res.job?.id, 'j1');
    assert.equal(c.address, live.address);
    await c.listJobs({});
    assert.deepEqual(live.calls, ['submitJob', 'listJobs']);
  });

  it('opens a WatchJob again on the next address when it breaks with UNAVAILABLE', async () => {
    const states: JobState[] = [];
    for await (const ev of client([dying.address, live.address]).watchJob('j1')) states.push(ev.job!.state);
    assert.deepEqual(states, [JobState.JOB_STATE_RUNNING, JobState.JOB_STATE_SUCCEEDED]);
    assert.deepEqual([dying.calls, live.calls], [['watchJob'], ['watchJob']]);
  });

  it('names every address when none takes the call', async () => {
    const refused = `127.0.0.1:${await freePort()}`;
    await assert.rejects(client([refused, dying.address]).listJobs({}), (e: grpc.ServiceError) =>
      e.code === grpc.status.UNAVAILABLE && e.details.startsWith(`cannot reach the Sentinel at any of ${refused}, ${dying.address}: ${refused}: `) && e.details.endsWith(`; ${dying.address}: replica going away`),
    );
  });
});
