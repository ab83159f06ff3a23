/**
 * A `dns:///NAME:PORT` Sentinel target over real grpc-js channels: NAME has
 * two addresses, 127.0.0.1 and 127.0.0.2 (the name is answered by a stand-in
 * for the system's resolver), each with a stand-in replica behind a TCP proxy
 * on the same port, whose cut() is the replica's death as its clients see it.
 * With round_robin, unary calls are spread over both replicas, where a plain
 * NAME:PORT target (pick_first) sends them all to one; a WatchJob stays on the
 * replica it started on and, when that one dies, is opened again on the same
 * entry and lands on the other.
 */
import { strict as assert } from 'node:assert';
import * as dns from 'node:dns';
import { JobState } from '../../services/gen/casparian/v1/types';
import { SentinelClient } from '../../tools/cli/client';
import { freePort } from '../helpers/managed-proc';
import { StandInSentinel, watchEvent, type WatchCall } from '../helpers/stand-in-sentinel';
import { TcpProxy } from '../helpers/tcp-proxy';
import { waitFor } from '../helpers/wait';

const NAME = 'sentinels.casparian.test';

describe('integration: a dns:/// Sentinel target balances with round_robin', () => {
  const realLookup = dns.promises.lookup;
  let replicas: StandInSentinel[];
  let proxies: TcpProxy[];
  const clients: SentinelClient[] = [];
  let port: number;
  /** The first WatchJob anywhere is held open (RUNNING); later ones see the job succeed. */
  let watched: boolean;
  const watchJob = (call: WatchCall): void => {
    call.write(watchEvent(JobState.JOB_STATE_RUNNING));
    if (!watched) {
      watched = true;
      return;
    }
    call.write(watchEvent(JobState.JOB_STATE_SUCCEEDED));
    call.end();
  };

  before(() => {
    // grpc-js resolves dns: targets with dns.promises.lookup(name, { all: true }).
    (dns.promises as { lookup: unknown }).lookup = (async (host: string, opts: unknown) =>
      host === NAME ? [{ address: '127.0.0.1', family: 4 }, { address: '127.0.0.2', family: 4 }] : realLookup(host, opts as dns.LookupAllOptions)) as never;
  });
  after(() => {
    dns.promises.lookup = realLookup;
  });
  beforeEach(async () => {
    watched = false;
    port = await freePort();
    replicas = await Promise.all([1, 2].map(() => StandInSentinel.start({ watchJob })));
    proxies = await Promise.all(['127.0.0.1', '127.0.0.2'].map((host, i) => TcpProxy.start(replicas[i].port, '127.0.0.1', { host, port })));
  });
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await Promise.all(proxies.map((p) => p.close()));
    await Promise.all(replicas.map((r) => r.stop()));
  });
  const client = (target: string): SentinelClient => {
    const c = new SentinelClient([target], 5_000);
    clients.push(c);
    return c;
  };
  const counts = (): number[] => replicas.map((r) => r.calls.filter((m) => m === 'listJobs').length);

  it('spreads unary calls over every address of the name; a plain NAME:PORT target uses one', async () => {
    const rr = client(`dns:///${NAME}:${port}`);
    await rr.ready();
    await waitFor('both subchannels to connect', async () => (await rr.listJobs({}), counts().every((n) => n > 0)), 5_000, 10);
    for (let i = 0; i < 20; i++) await rr.listJobs({});
    const [a, b] = counts();
    assert.ok(a >= 8 && b >= 8, `round_robin: ${a} and ${b} calls`);

    replicas.forEach((r) => (r.calls.length = 0));
    const pf = client(`${NAME}:${port}`);
    for (let i = 0; i < 20; i++) await pf.listJobs({});
    assert.deepEqual(counts().sort(), [0, 20], 'pick_first: one connection');
  });

  it('keeps a WatchJob on its replica, and opens it again on the other when that one dies', async () => {
    const c = client(`dns:///${NAME}:${port}`);
    const states: JobState[] = [];
    const watching = (async () => {
      for await (const ev of c.watchJob('j1')) states.push(ev.job!.state);
    })();
    await waitFor('the watch to start', () => states.length === 1, 5_000, 10);
    const first = replicas.findIndex((r) => r.calls.includes('watchJob'));
    proxies[first].cut();
    await watching;
    assert.deepEqual(states, [JobState.JOB_STATE_RUNNING, JobState.JOB_STATE_RUNNING, JobState.JOB_STATE_SUCCEEDED]);
    assert.deepEqual(
      replicas.map((r) => r.calls.filter((m) => m === 'watchJob').length),
      [1, 1],
      'one watch on each replica',
    );
  });
});
