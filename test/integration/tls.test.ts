/**
 * TLS and mTLS on real processes over loopback: a Sentinel and a worker
 * started by the CLI with certificates made by `openssl` at test time, the
 * CLI as a client. The Sentinel and the worker take their settings from
 * CASPARIAN_TLS_* (the environment), the CLI from --tls-* flags, so both
 * ways of configuring are exercised.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { JobState } from '../../services/gen/casparian/v1/types';
import { runCli, showCli } from '../helpers/cli-run';
import { checkValues, faultPlugin, writeCsv } from '../helpers/data-fixtures';
import { freePort } from '../helpers/managed-proc';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { makeTestCerts, type TestCerts } from '../helpers/tls-certs';

const pem = (f: string): Buffer => fs.readFileSync(f);

describe('integration: TLS and mTLS (real processes, openssl certificates)', function () {
  this.timeout(300_000);
  const clusters = useClusters();
  let certs: TestCerts;
  let certDir: string;

  before(() => {
    certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-certs-'));
    certs = makeTestCerts(certDir);
  });
  after(() => fs.rmSync(certDir, { recursive: true, force: true }));

  const cli = (c: ProcCluster, ...args: string[]) => runCli(['jobs', '--json', '--sentinel', c.address, '--timeout', '5', ...args], { timeoutMs: 30_000 });

  clusters.it('TLS: a worker and the CLI reach the Sentinel only over TLS with the right CA; a job runs end to end', async () => {
    const c = clusters.track(
      await ProcCluster.start({
        sentinelEnv: { CASPARIAN_TLS_CERT: certs.serverCert, CASPARIAN_TLS_KEY: certs.serverKey },
        clientCredentials: grpc.credentials.createSsl(pem(certs.ca)),
      }),
    );
    await c.startWorker('w1', { env: { CASPARIAN_TLS_CA: certs.ca } });
    await c.publish('values', faultPlugin('values.py'));
    const job = await c.waitJob((await c.submit('values', writeCsv(c.inputDir, 'tls.csv', 4, 1))).id);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
    assert.equal(await checkValues(c, job.id, 4, 1), '');

    const ok = await cli(c, '--tls-ca', certs.ca);
    assert.equal(ok.code, 0, showCli(ok));
    assert.ok(ok.stdout.includes(job.id), showCli(ok));

    const plaintext = await cli(c);
    assert.equal(plaintext.code, 1, showCli(plaintext));
    assert.match(plaintext.stderr, /UNAVAILABLE/, 'plaintext to a TLS port fails to connect');

    const otherCa = await cli(c, '--tls-ca', certs.rogueCa);
    assert.equal(otherCa.code, 1, showCli(otherCa));
    assert.match(otherCa.stderr, /UNAVAILABLE/, 'a server certificate from an untrusted CA is refused');

    const listening = fs
      .readFileSync(c.sentinel!.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'sentinel listening');
    assert.equal(listening?.tls, 'tls');
  });

  clusters.it('mTLS: the Sentinel refuses clients without a certificate from its CA; a worker with one runs jobs', async () => {
    const c = clusters.track(
      await ProcCluster.start({
        sentinelEnv: {
          CASPARIAN_TLS_CERT: certs.serverCert,
          CASPARIAN_TLS_KEY: certs.serverKey,
          CASPARIAN_TLS_CA: certs.ca,
          CASPARIAN_TLS_REQUIRE_CLIENT_CERT: '1',
        },
        clientCredentials: grpc.credentials.createSsl(pem(certs.ca), pem(certs.clientKey), pem(certs.clientCert)),
      }),
    );
    await c.startWorker('w1', { env: { CASPARIAN_TLS_CA: certs.ca, CASPARIAN_TLS_CERT: certs.clientCert, CASPARIAN_TLS_KEY: certs.clientKey } });
    await c.publish('values', faultPlugin('values.py'));
    const job = await c.waitJob((await c.submit('values', writeCsv(c.inputDir, 'mtls.csv', 3, 2))).id);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));

    const withCert = await cli(c, '--tls-ca', certs.ca, '--tls-cert', certs.clientCert, '--tls-key', certs.clientKey);
    assert.equal(withCert.code, 0, showCli(withCert));
    assert.ok(withCert.stdout.includes(job.id));

    const noCert = await cli(c, '--tls-ca', certs.ca);
    assert.equal(noCert.code, 1, showCli(noCert));
    assert.match(noCert.stderr, /UNAVAILABLE/, 'a client without a certificate is refused');

    const rogue = await cli(c, '--tls-ca', certs.ca, '--tls-cert', certs.rogueClientCert, '--tls-key', certs.rogueClientKey);
    assert.equal(rogue.code, 1, showCli(rogue));
    assert.match(rogue.stderr, /UNAVAILABLE/, 'a client certificate from another CA is refused');

    // A worker without a client certificate never gets a session.
    await assert.rejects(c.startWorker('w2', { env: { CASPARIAN_TLS_CA: certs.ca } }), /w2/);
    assert.deepEqual((await c.client.listWorkers({})).workers.map((w) => w.workerId), ['w1']);
  });

  it('refuses to start on a non-loopback address in plaintext unless --insecure; bad TLS settings name the setting', async () => {
    const port = String(await freePort());
    const dataDir = fs.mkdtempSync(path.join(certDir, 'data-'));
    const base = ['sentinel', '--port', port, '--data-dir', dataDir, '--commit-writer', 'wasm'];
    const cases: [string[], RegExp][] = [
      [['--host', '0.0.0.0'], /plaintext on 0\.0\.0\.0.*--tls-cert.*--insecure/],
      [['--tls-cert', certs.serverCert], /--tls-cert and --tls-key .* go together/],
      [['--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--require-client-cert'], /--require-client-cert needs --tls-ca/],
      [['--tls-cert', path.join(certDir, 'missing.pem'), '--tls-key', certs.serverKey], /--tls-cert \(CASPARIAN_TLS_CERT\): cannot read .*missing\.pem \(ENOENT\)/],
      [['--tls-ca', path.join(certDir, 'server.ext')], /--tls-ca \(CASPARIAN_TLS_CA\): .* is not PEM/],
    ];
    for (const [flags, message] of cases) {
      const r = await runCli([...base, ...flags], { timeoutMs: 30_000 });
      assert.equal(r.code, 2, `${flags.join(' ')}: ${showCli(r)}`);
      assert.match(r.stderr, message, flags.join(' '));
    }
    const r = await runCli(['worker', '--worker-port', '0', '--worker-host', '0.0.0.0'], { timeoutMs: 30_000 });
    assert.equal(r.code, 2, showCli(r));
    assert.match(r.stderr, /the worker's server \(--worker-port\) would serve plaintext on 0\.0\.0\.0/);
  });
});
