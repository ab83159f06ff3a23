/**
 * Tokens by role on real processes over loopback: a Sentinel started by the
 * CLI with --tokens-file (via CASPARIAN_TOKENS_FILE), a worker with a worker
 * token, the CLI and raw gRPC clients with the right, the wrong and no
 * token; rotation without a restart; the worker allow-list by client
 * certificate (mTLS, openssl certificates made at test time).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { hashToken, newToken } from '../../services/common/auth/tokens';
import { channelOptions } from '../../services/common/grpc-server';
import type { DispatchRequest } from '../../services/gen/casparian/v1/dispatch';
import { SentinelClient as RawSentinelClient } from '../../services/gen/casparian/v1/sentinel';
import { RunRequest, WorkerClient } from '../../services/gen/casparian/v1/worker';
import { JobState } from '../../services/gen/casparian/v1/types';
import { runCli, showCli } from '../helpers/cli-run';
import { faultPlugin, writeCsv } from '../helpers/data-fixtures';
import { freePort } from '../helpers/managed-proc';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { makeTestCerts } from '../helpers/tls-certs';
import { sleep, waitFor } from '../helpers/wait';

/** The status a raw Dispatch stream ends with after sending Hello with `token`. */
function dispatchStatus(address: string, token: string | undefined, workerId = 'rogue', creds = grpc.credentials.createInsecure()): Promise<grpc.status> {
  const client = new RawSentinelClient(address, creds, channelOptions(token));
  return new Promise((resolve) => {
    const call = client.dispatch();
    call.on('data', () => undefined);
    call.on('error', (e: grpc.ServiceError) => {
      client.close();
      resolve(e.code);
    });
    const hello: DispatchRequest = { msg: { $case: 'hello', hello: { workerId, slots: 1024, version: 'x', envs: [], mayProvision: true, envMode: 'auto', hostname: 'rogue', active: [] } } };
    call.write(hello);
    setTimeout(() => call.cancel(), 5_000);
  });
}

describe('integration: tokens by role (real processes)', function () {
  this.timeout(300_000);
  const clusters = useClusters();
  let dir: string;
  const client = newToken();
  const worker = newToken();

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-auth-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const tokensFile = (name: string, lines: string[]): string => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, `# role hash name\n${lines.join('\n')}\n`);
    return f;
  };
  const jobs = (c: ProcCluster, ...args: string[]) => runCli(['jobs', '--json', '--sentinel', c.address, '--timeout', '5', ...args], { timeoutMs: 30_000 });

  clusters.it('a client token for the API, a worker token for Dispatch; the wrong role is PERMISSION_DENIED, none or a bad one UNAUTHENTICATED; rotation needs no restart', async () => {
    const file = tokensFile('tokens', [`client ${hashToken(client)} alice`, `worker ${hashToken(worker)} pool`]);
    const c = clusters.track(await ProcCluster.start({ sentinelEnv: { CASPARIAN_TOKENS_FILE: file }, clientToken: client }));
    await c.startWorker('w1', { env: { CASPARIAN_TOKEN: worker } });
    await c.publish('values', faultPlugin('values.py'));
    const job = await c.waitJob((await c.submit('values', writeCsv(c.inputDir, 'auth.csv', 3, 1))).id);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));

    const ok = await jobs(c, '--token', client);
    assert.equal(ok.code, 0, showCli(ok));
    assert.ok(ok.stdout.includes(job.id));
    const none = await jobs(c);
    assert.equal(none.code, 1, showCli(none));
    assert.match(none.stderr, /UNAUTHENTICATED: ListJobs needs a client token/);
    const bad = await jobs(c, '--token', newToken());
    assert.match(bad.stderr, /UNAUTHENTICATED: the token is not valid/, showCli(bad));
    const wrongRole = await runCli(['jobs', '--sentinel', c.address], { env: { CASPARIAN_TOKEN: worker }, timeoutMs: 30_000 });
    assert.match(wrongRole.stderr, /PERMISSION_DENIED: ListJobs needs a client token; "pool" holds a worker token/, showCli(wrongRole));

    // A rogue worker holding a client token cannot open Dispatch; without a token it is not even asked.
    assert.equal(await dispatchStatus(c.address, client), grpc.status.PERMISSION_DENIED);
    assert.equal(await dispatchStatus(c.address, undefined), grpc.status.UNAUTHENTICATED);
    assert.deepEqual((await c.client.listWorkers({})).workers.map((w) => w.workerId), ['w1']);

    // Rotation, no restart: bob is added by `casparian token create`, alice revoked by deleting her line.
    const created = await runCli(['token', 'create', '--role', 'client', '--name', 'bob', '--tokens-file', file], { timeoutMs: 30_000 });
    assert.equal(created.code, 0, showCli(created));
    const bob = created.stdout.trim();
    assert.match(bob, /^cft_[A-Za-z0-9_-]{43}$/);
    assert.ok(fs.readFileSync(file, 'utf8').includes(`client ${hashToken(bob)} bob`), 'only the hash is stored');
    const again = await runCli(['token', 'create', '--role', 'client', '--name', 'bob', '--tokens-file', file], { timeoutMs: 30_000 });
    assert.equal(again.code, 2, 'a second token named bob is refused');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').split('\n').filter((l) => !l.endsWith(' alice')).join('\n'));
    await waitFor('the old client token to be refused', async () => /UNAUTHENTICATED/.test((await jobs(c, '--token', client)).stderr), 15_000, 300);
    const withBob = await jobs(c, '--token', bob);
    assert.equal(withBob.code, 0, showCli(withBob));
    // A broken edit keeps the tokens in force.
    fs.writeFileSync(file, 'client not-a-hash\n');
    await sleep(1_200);
    const stillBob = await jobs(c, '--token', bob);
    assert.equal(stillBob.code, 0, showCli(stillBob));

    const logs = [c.sentinel!.logFile, c.worker('w1').logFile].map((f) => fs.readFileSync(f, 'utf8')).join('\n');
    assert.match(logs, /auth tokens reloaded/);
    assert.match(logs, /auth tokens file not reloaded; the tokens in force stay/);
    for (const t of [client, worker, bob]) assert.ok(!logs.includes(t), 'a token appears in a log');
  });

  clusters.it('an expired token is UNAUTHENTICATED and says so; `token create --expires-in` writes an expiry the Sentinel enforces', async () => {
    const expired = newToken();
    const file = tokensFile('timed', [`client ${hashToken(client)} alice`, `client ${hashToken(expired)} carol expires=2020-01-01T00:00:00Z`]);
    const c = clusters.track(await ProcCluster.start({ sentinelEnv: { CASPARIAN_TOKENS_FILE: file }, clientToken: client }));
    const old = await jobs(c, '--token', expired);
    assert.equal(old.code, 1, showCli(old));
    assert.match(old.stderr, /UNAUTHENTICATED: the token "carol" expired at 2020-01-01T00:00:00.000Z/);

    const created = await runCli(['token', 'create', '--role', 'client', '--name', 'dave', '--expires-in', '3s', '--tokens-file', file, '--json'], { timeoutMs: 30_000 });
    assert.equal(created.code, 0, showCli(created));
    const dave = JSON.parse(created.stdout) as { token: string; expires: string };
    assert.ok(fs.readFileSync(file, 'utf8').includes(`client ${hashToken(dave.token)} dave expires=${dave.expires}`));
    await waitFor('the new token to be taken', async () => (await jobs(c, '--token', dave.token)).code === 0, 15_000, 200);
    await sleep(Math.max(0, Date.parse(dave.expires) - Date.now()) + 100);
    const late = await jobs(c, '--token', dave.token);
    assert.match(late.stderr, /UNAUTHENTICATED: the token "dave" expired at/, showCli(late));
    const bad = await runCli(['token', 'create', '--role', 'client', '--name', 'erin', '--expires-in', 'soon', '--tokens-file', file], { timeoutMs: 30_000 });
    assert.equal(bad.code, 2, showCli(bad));
    assert.match(bad.stderr, /--expires-in wants a number and a unit/);
  });

  clusters.it("a second Hello with a live worker's id is ALREADY_EXISTS; the live worker keeps its session and its running job", async () => {
    const file = tokensFile('dup-tokens', [`client ${hashToken(client)} alice`, `worker ${hashToken(worker)} pool`]);
    const c = clusters.track(await ProcCluster.start({ sentinelEnv: { CASPARIAN_TOKENS_FILE: file }, clientToken: client }));
    await c.startWorker('w1', { env: { CASPARIAN_TOKEN: worker } });
    await c.publish('values', faultPlugin('values.py'));
    const input = writeCsv(c.inputDir, 'slow.csv', 3, 1, ['# sleep=2']);
    const submitted = await c.submit('values', input);
    await waitFor('the plugin to start', () => fs.existsSync(`${input}.runs`), 60_000, 50);
    const before = (await c.client.listWorkers({})).workers.find((w) => w.workerId === 'w1');

    assert.ok(before?.connectedAt, 'w1 is listed with its connection time');
    assert.equal(await dispatchStatus(c.address, worker, 'w1'), grpc.status.ALREADY_EXISTS);

    const job = await c.waitJob(submitted.id);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
    assert.equal(job.attempt, 1, 'the live worker\'s attempt was not taken from it');
    const after = (await c.client.listWorkers({})).workers.find((w) => w.workerId === 'w1');
    assert.deepEqual(after?.connectedAt, before?.connectedAt, 'the same session');
  });

  clusters.it("the worker's own server (Run) needs a client token too", async () => {
    const file = tokensFile('worker-tokens', [`client ${hashToken(client)} alice`, `worker ${hashToken(worker)} pool`]);
    const c = clusters.track(await ProcCluster.start({ sentinelEnv: { CASPARIAN_TOKENS_FILE: file }, clientToken: client }));
    const port = await freePort();
    await c.startWorker('w1', { port, env: { CASPARIAN_TOKEN: worker, CASPARIAN_TOKENS_FILE: file } });
    const runStatus = async (token: string | undefined): Promise<grpc.status> => {
      const wc = new WorkerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), channelOptions(token));
      try {
        const call = wc.run(RunRequest.fromPartial({ pluginName: 'x', source: 'def parse(p):\n    return None\n', lockfile: '', inputPath: '/nonexistent' }));
        for await (const _ of call) void _;
        return grpc.status.OK;
      } catch (e) {
        return (e as grpc.ServiceError).code;
      } finally {
        wc.close();
      }
    };
    assert.equal(await runStatus(undefined), grpc.status.UNAUTHENTICATED);
    assert.equal(await runStatus(worker), grpc.status.PERMISSION_DENIED);
    assert.notEqual(await runStatus(client), grpc.status.UNAUTHENTICATED);
  });

  clusters.it('--worker-cert-names admits a worker by its client certificate (mTLS); that certificate is no client token', async () => {
    const certs = makeTestCerts(path.join(dir, 'certs'));
    const file = tokensFile('mtls-tokens', [`client ${hashToken(client)} alice`]);
    const pem = (f: string) => fs.readFileSync(f);
    const c = clusters.track(
      await ProcCluster.start({
        sentinelEnv: {
          CASPARIAN_TOKENS_FILE: file,
          CASPARIAN_WORKER_CERT_NAMES: 'client',
          CASPARIAN_TLS_CERT: certs.serverCert,
          CASPARIAN_TLS_KEY: certs.serverKey,
          CASPARIAN_TLS_CA: certs.ca,
          CASPARIAN_TLS_REQUIRE_CLIENT_CERT: '1',
        },
        clientCredentials: grpc.credentials.createSsl(pem(certs.ca), pem(certs.clientKey), pem(certs.clientCert)),
        clientToken: client,
      }),
    );
    await c.startWorker('w1', { env: { CASPARIAN_TLS_CA: certs.ca, CASPARIAN_TLS_CERT: certs.clientCert, CASPARIAN_TLS_KEY: certs.clientKey } });
    await c.publish('values', faultPlugin('values.py'));
    const job = await c.waitJob((await c.submit('values', writeCsv(c.inputDir, 'cert.csv', 2, 3))).id);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
    const certOnly = await jobs(c, '--tls-ca', certs.ca, '--tls-cert', certs.clientCert, '--tls-key', certs.clientKey);
    assert.match(certOnly.stderr, /UNAUTHENTICATED/, showCli(certOnly));
  });

  it('a server other hosts can reach needs tokens or client certificates, unless --insecure; a bad tokens file names its line', async () => {
    const certs = makeTestCerts(path.join(dir, 'certs2'));
    const base = ['sentinel', '--port', String(await freePort()), '--data-dir', path.join(dir, 'data'), '--host', '0.0.0.0', '--tls-cert', certs.serverCert, '--tls-key', certs.serverKey];
    const open = await runCli(base, { timeoutMs: 30_000 });
    assert.equal(open.code, 2, showCli(open));
    assert.match(open.stderr, /without asking who they are: give it --tokens-file FILE or --require-client-cert/);
    const badFile = tokensFile('bad', [`client ${hashToken(client)}`, 'admin sha256:00']);
    const bad = await runCli([...base, '--tokens-file', badFile], { timeoutMs: 30_000 });
    assert.equal(bad.code, 2, showCli(bad));
    assert.match(bad.stderr, /bad:3: role must be client or worker, got "admin"/);
    const names = await runCli([...base, '--tokens-file', tokensFile('ok', []), '--worker-cert-names', 'w'], { timeoutMs: 30_000 });
    assert.match(names.stderr, /--worker-cert-names .* needs --require-client-cert/, showCli(names));
  });
});
