/**
 * A real Sentinel process at debug level, called with tokens: its log (JSON
 * lines on stderr) records the calls, their metadata included, but never a
 * token, valid or not.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { hashToken, newToken } from '../../services/common/auth/tokens';
import { channelOptions } from '../../services/common/grpc-server';
import { SentinelClient as RawSentinelClient } from '../../services/gen/casparian/v1/sentinel';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';

/** ListWorkers with `token`; resolves with the status code. */
function listWorkers(address: string, token: string): Promise<grpc.status> {
  const client = new RawSentinelClient(address, grpc.credentials.createInsecure(), channelOptions(token));
  return new Promise((resolve) =>
    client.listWorkers({}, (err) => {
      client.close();
      resolve(err ? err.code : grpc.status.OK);
    }),
  );
}

describe('integration: the Sentinel does not log the tokens it is called with (real process)', function () {
  this.timeout(120_000);
  const clusters = useClusters();
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-logredact-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  clusters.it('debug lines of the calls carry their metadata with authorization censored; no token appears anywhere', async () => {
    const client = newToken();
    const unknown = newToken();
    const file = path.join(dir, 'tokens');
    fs.writeFileSync(file, `client ${hashToken(client)} alice\n`);
    const c = clusters.track(await ProcCluster.start({ logLevel: 'debug', sentinelEnv: { CASPARIAN_TOKENS_FILE: file }, clientToken: client }));
    assert.equal(await listWorkers(c.address, client), grpc.status.OK);
    assert.equal(await listWorkers(c.address, unknown), grpc.status.UNAUTHENTICATED);
    await c.stopGracefully();

    const log = fs.readFileSync(c.sentinel!.logFile, 'utf8');
    const calls = log
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; method?: string; metadata?: Record<string, unknown> })
      .filter((l) => l.msg === 'rpc call' && l.method === '/casparian.v1.Sentinel/ListWorkers');
    assert.ok(calls.length >= 2, `the calls are logged:\n${log}`);
    for (const l of calls) assert.equal(l.metadata?.authorization, '[redacted]');
    assert.ok(!log.includes(client), 'the valid token appears in the log');
    assert.ok(!log.includes(unknown), 'the refused token appears in the log');
  });
});
