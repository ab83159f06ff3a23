/**
 * The isolation level as configuration: the worker's --isolation flag and
 * CASPARIAN_ISOLATION (validated once, with a clear ConfigError), and a
 * plugin manifest's isolation (validated at publish, INVALID_ARGUMENT), which
 * keeps the artifact hash of manifests that do not set it.
 */
import { strict as assert } from 'node:assert';
import { status } from '@grpc/grpc-js';
import { ConfigError, DEFAULT_FORK_SERVERS, compileWorkerConfig } from '../../../services/common/config';
import { effectiveIsolation } from '../../../services/common/isolation';
import { RpcError } from '../../../services/common/rpc-error';
import { canonicalManifest, compileManifest, parseManifest } from '../../../services/sentinel/plugins/manifest';

const base = { sentinel: '127.0.0.1:1' };

describe('unit: isolation levels in configuration', () => {
  it('a worker defaults to fork, and takes --isolation over CASPARIAN_ISOLATION', () => {
    assert.equal(compileWorkerConfig(base, {}).isolation, 'fork');
    assert.equal(compileWorkerConfig(base, { CASPARIAN_ISOLATION: 'reuse' }).isolation, 'reuse');
    assert.equal(compileWorkerConfig({ ...base, isolation: 'spawn' }, { CASPARIAN_ISOLATION: 'reuse' }).isolation, 'spawn');
    assert.equal(compileWorkerConfig(base, {}).forkServers, DEFAULT_FORK_SERVERS);
    assert.equal(compileWorkerConfig({ ...base, 'fork-servers': '7' }, {}).forkServers, 7);
  });

  it('refuses an unknown level or a bad server cap with a ConfigError that names the setting', () => {
    assert.throws(() => compileWorkerConfig({ ...base, isolation: 'thread' }, {}), (e: Error) => e instanceof ConfigError && /--isolation .*spawn, fork, reuse; got "thread"/.test(e.message));
    assert.throws(() => compileWorkerConfig(base, { CASPARIAN_ISOLATION: 'FORK' }), (e: Error) => e instanceof ConfigError && /CASPARIAN_ISOLATION/.test(e.message));
    assert.throws(() => compileWorkerConfig({ ...base, 'fork-servers': '0' }, {}), (e: Error) => e instanceof ConfigError && /--fork-servers/.test(e.message));
  });

  it("a manifest's level wins over the worker's; empty means the worker's", () => {
    assert.equal(effectiveIsolation('', 'fork'), 'fork');
    assert.equal(effectiveIsolation('reuse', 'fork'), 'reuse');
    assert.equal(effectiveIsolation('spawn', 'reuse'), 'spawn');
  });

  it('a manifest takes one of the three levels or none, and anything else is INVALID_ARGUMENT', () => {
    assert.equal(compileManifest({}).isolation, '');
    assert.equal(compileManifest({ isolation: '' }).isolation, '');
    for (const level of ['spawn', 'fork', 'reuse']) assert.equal(compileManifest({ isolation: level }).isolation, level);
    assert.throws(
      () => compileManifest({ isolation: 'threads' }),
      (e: Error) => e instanceof RpcError && e.code === status.INVALID_ARGUMENT && /manifest.isolation must be one of "spawn", "fork", "reuse"/.test(e.message),
    );
  });

  it('a manifest without a level keeps its canonical form (and artifact hash); one published before the field reads as unset', () => {
    const before = canonicalManifest(compileManifest({ description: 'x' }));
    assert.ok(!before.includes('isolation'));
    assert.match(canonicalManifest(compileManifest({ description: 'x', isolation: 'reuse' })), /"isolation":"reuse"/);
    const old = JSON.parse(before) as Record<string, unknown>;
    assert.equal(parseManifest({ manifest_json: JSON.stringify(old) }).isolation, '');
  });
});
