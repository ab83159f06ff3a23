/**
 * The config file through the real CLI: `casparian config print` shows which
 * of flag, variable and file won for each setting, secrets redacted, and a
 * Sentinel given a bad file exits 2 naming the setting before it opens its
 * data dir or binds its port.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { runCli, showCli } from '../helpers/cli-run';
import { freePort } from '../helpers/managed-proc';

describe('integration: config file and casparian config print', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-config-cli-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('prints flag over variable over file over default, with tokens and URL credentials redacted', async () => {
    const file = path.join(dir, 'casparian.yaml');
    fs.writeFileSync(
      file,
      [
        'indexUrl: https://alice:hunter2@pypi.example/simple',
        'sentinel:',
        '  port: 1111',
        '  minFreeBytes: 5',
        '  retainSeconds: 60',
        'worker:',
        '  token: cft_from_the_file',
        '  workerPort: -1',
        '',
      ].join('\n'),
    );
    const env = { CASPARIAN_PORT: '2222', CASPARIAN_MIN_FREE_BYTES: '6', CASPARIAN_TOKEN: '' };
    const r = await runCli(['config', 'print', '--config', file, '--port', '3333'], { env, timeoutMs: 30_000 });
    assert.equal(r.code, 0, showCli(r));
    const view = JSON.parse(r.stdout);
    assert.equal(view.configFile, file);
    assert.deepEqual(view.sentinel.port, { value: 3333, from: 'flag', via: '--port' });
    assert.deepEqual(view.sentinel.minFreeBytes, { value: 6, from: 'env', via: 'CASPARIAN_MIN_FREE_BYTES' });
    assert.deepEqual(view.sentinel.retainSeconds, { value: 60, from: 'file', via: `${file}:5` });
    assert.deepEqual(view.sentinel.host, { value: '127.0.0.1', from: 'default' });
    assert.deepEqual(view.worker.token, { value: '[redacted]', from: 'file', via: `${file}:7` });
    assert.equal(view.worker.indexUrl.value, 'https://***@pypi.example/simple');
    assert.equal(view.sentinel.indexUrl.value, 'https://***@pypi.example/simple');
    for (const secret of ['hunter2', 'alice', 'cft_from_the_file']) assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), `${secret} printed`);

    const yaml = await runCli(['config', 'print', 'worker', '--config', file, '--format', 'yaml'], { env: { CASPARIAN_TOKEN: 'cft_from_env' }, timeoutMs: 30_000 });
    assert.equal(yaml.code, 0, showCli(yaml));
    const w = parse(yaml.stdout);
    assert.deepEqual(w.worker.token, { value: '[redacted]', from: 'env', via: 'CASPARIAN_TOKEN' });
    assert.equal(w.sentinel, undefined);
    assert.ok(!yaml.stdout.includes('cft_from_env'));
  });

  it('takes the store settings as flags (--db, --db-pool-size, --output-root), the URL\'s password masked', async () => {
    const r = await runCli(['config', 'print', 'sentinel', '--db', 'postgres://alice:hunter2@db.example:5432/cf', '--db-pool-size', '4', '--output-root', '/srv/casparian'], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, showCli(r));
    const view = JSON.parse(r.stdout);
    assert.deepEqual(view.sentinel.db, { value: 'postgres://***@db.example:5432/cf', from: 'flag', via: '--db' });
    assert.deepEqual(view.sentinel.dbPoolSize, { value: 4, from: 'flag', via: '--db-pool-size' });
    assert.deepEqual(view.sentinel.outputRoot, { value: '/srv/casparian', from: 'flag', via: '--output-root' });
    assert.ok(!r.stdout.includes('hunter2') && !r.stdout.includes('alice'));
  });

  it('a Sentinel with a bad setting in its file exits 2 naming it, before it opens its data dir or binds its port', async () => {
    const port = await freePort();
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, `sentinel:\n  port: ${port}\n  dataDir: data-bad\n  minFreeBytes: lots\n`);
    const r = await runCli(['sentinel', '--config', file, '--commit-writer', 'wasm'], { timeoutMs: 30_000 });
    assert.equal(r.code, 2, showCli(r));
    assert.equal(r.stderr.trim(), `config file ${file}:4: sentinel.minFreeBytes must be an integer >= 0, got "lots"`);
    assert.ok(!fs.existsSync(path.join(dir, 'data-bad')), 'the data dir was created');
    await new Promise<void>((resolve, reject) => {
      const probe = net.createServer().once('error', reject);
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
    });

    const printed = await runCli(['config', 'print', '--config', file], { timeoutMs: 30_000 });
    assert.equal(printed.code, 2, showCli(printed));
    assert.match(printed.stderr, /sentinel\.minFreeBytes must be an integer >= 0, got "lots"/);
    assert.equal(printed.stdout, '');
  });
});
