/**
 * Keeping a host's envs in bounds and bringing your own: LRU gc that never
 * evicts an env in use (by any manager), and `env link`. Envs are built with
 * the stand-in uv (test/helpers/fake-uv.ts).
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { envHashOf } from '../../services/worker/envs/env-hash';
import { EnvLinkRefused } from '../../services/worker/envs/env-link';
import { importsPyarrow, useFakeUv, variant } from '../helpers/fake-uv';

describe('envs: gc and link (stand-in uv)', function () {
  this.timeout(180_000);
  const u = useFakeUv('envs-gc-');

  it('gc evicts least recently used envs and never one in use, by this or another manager', async () => {
    const a = u.manager();
    const b = u.manager();
    for (const name of ['gc-1', 'gc-2', 'gc-3', 'gc-4']) (await a.acquire(envHashOf(variant(name)), variant(name))).release();
    const inv = await a.init();
    assert.ok(inv.length >= 4, `expected several envs, got ${inv.length}`);
    const held = await a.acquire(envHashOf(variant('gc-1')), variant('gc-1'));
    const heldElsewhere = await b.acquire(envHashOf(variant('gc-2')), variant('gc-2'));
    const evictedEvents: string[] = [];
    a.onChange((c) => c.kind === 'evicted' && evictedEvents.push(c.env.envHash));

    const dry = await a.gc({ maxBytes: 0, maxCount: 0, dryRun: true });
    assert.ok(dry.evicted.length >= 2);
    assert.ok(dry.evicted.every((e) => fs.existsSync(e.path)), 'a dry run deletes nothing');

    const res = await a.gc({ maxBytes: 0, maxCount: 0 });
    const kept = res.kept.map((e) => e.envHash).sort();
    assert.deepEqual(kept, [held.envHash, heldElsewhere.envHash].sort());
    assert.ok(fs.existsSync(held.python) && fs.existsSync(heldElsewhere.python));
    for (const e of res.evicted) assert.equal(fs.existsSync(e.path), false);
    assert.deepEqual(evictedEvents.sort(), res.evicted.map((e) => e.envHash).sort());
    assert.equal(importsPyarrow(held.python), '25.0.1');

    held.release();
    heldElsewhere.release();
    const res2 = await a.gc({ maxBytes: 10 * 2 ** 30, maxCount: 1 });
    assert.deepEqual(res2.evicted.length, 1);
    assert.equal(res2.kept.length, 1);
  });

  it('link registers a good venv (whole directory) and refuses a bad one with the reason', async () => {
    const source = u.manager({ home: path.join(u.root, 'byo-source') });
    const lease = await source.acquire(envHashOf(variant('byo')), variant('byo'));
    lease.release();
    const venvDir = path.dirname(path.dirname(lease.python));
    const target = u.manager({ home: path.join(u.root, 'byo-home'), mode: 'strict' });
    const hash = envHashOf('my own lockfile\n');
    const info = await target.link(hash, venvDir);
    assert.equal(info.backend, 'linked');
    assert.equal(info.status, 'ready');
    assert.equal(fs.readlinkSync(path.join(u.root, 'byo-home', 'venvs', hash)), venvDir);
    const linked = await target.acquire(hash, 'my own lockfile\n');
    assert.equal(linked.backend, 'linked');
    assert.equal(importsPyarrow(linked.python), '25.0.1');
    linked.release();
    assert.equal((await target.init()).find((e) => e.envHash === hash)?.status, 'ready');

    const bare = path.join(u.root, 'bare-venv');
    execFileSync('python3', ['-m', 'venv', '--without-pip', bare]);
    const other = envHashOf('other\n');
    await assert.rejects(target.link(other, bare), (err: unknown) => {
      assert.ok(err instanceof EnvLinkRefused);
      assert.match(err.reason, /cannot import pyarrow \(ModuleNotFoundError/);
      return true;
    });
    await assert.rejects(target.link(other, path.join(u.root, 'nope')), /is not a directory/);
    await assert.rejects(target.link(other, u.root), /bin\/python does not exist/);
    await assert.rejects(target.link(hash, venvDir), /already exists/);
    assert.equal(fs.existsSync(path.join(u.root, 'byo-home', 'venvs', other)), false);
  });

});
