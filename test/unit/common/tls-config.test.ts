import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileSentinelConfig, compileWorkerConfig, ConfigError } from '../../../services/common/config';
import { checkPlaintext, compileTls, isLoopback, tlsMode } from '../../../services/common/tls';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('unit: TLS settings', () => {
  let dir: string;
  let cert: string;
  let key: string;
  let ca: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-tls-unit-'));
    [cert, key, ca] = ['cert.pem', 'key.pem', 'ca.pem'].map((f) => path.join(dir, f));
    for (const f of [cert, key, ca]) fs.writeFileSync(f, PEM);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) assert.ok(isLoopback(h), h);
    for (const h of ['0.0.0.0', '10.0.0.5', '::', 'example.com', '128.0.0.1']) assert.ok(!isLoopback(h), h);
  });

  it('no setting is plaintext; flags win over CASPARIAN_TLS_*; a CA alone makes a TLS client', () => {
    assert.equal(compileTls({}, {}), undefined);
    const client = compileTls({}, { CASPARIAN_TLS_CA: ca });
    assert.ok(client?.ca && !client.cert);
    const server = compileTls({ 'tls-cert': cert, 'tls-key': key }, { CASPARIAN_TLS_CERT: path.join(dir, 'nope.pem') });
    assert.equal(tlsMode(server), 'tls');
    const mtls = compileTls({}, { CASPARIAN_TLS_CERT: cert, CASPARIAN_TLS_KEY: key, CASPARIAN_TLS_CA: ca, CASPARIAN_TLS_REQUIRE_CLIENT_CERT: '1' });
    assert.equal(tlsMode(mtls), 'mtls');
    assert.equal(tlsMode(undefined), 'plaintext');
  });

  it('plaintext off loopback needs --insecure, for the Sentinel and for a worker that serves', () => {
    assert.throws(() => checkPlaintext(undefined, '0.0.0.0', false, 'x'), (e: Error) => e instanceof ConfigError && /plaintext on 0\.0\.0\.0/.test(e.message));
    checkPlaintext(undefined, '0.0.0.0', true, 'x');
    checkPlaintext(undefined, '127.0.0.1', false, 'x');
    checkPlaintext(compileTls({ 'tls-cert': cert, 'tls-key': key }, {}), '0.0.0.0', false, 'x');
    assert.throws(() => compileSentinelConfig({ host: '0.0.0.0' }, {}), ConfigError);
    assert.equal(compileSentinelConfig({ host: '0.0.0.0', insecure: true }, {}).allowInsecure, true);
    assert.equal(compileSentinelConfig({ host: '0.0.0.0' }, { CASPARIAN_INSECURE: '1' }).host, '0.0.0.0');
    assert.throws(() => compileWorkerConfig({ 'worker-host': '0.0.0.0' }, {}), ConfigError);
    assert.equal(compileWorkerConfig({ 'worker-host': '0.0.0.0', 'worker-port': '-1' }, {}).port, -1, 'a worker without a server has nothing to secure');
  });
});
