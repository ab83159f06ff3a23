/**
 * The worker's fork servers as a pool (real Python): an attempt falls back to
 * a spawned guest when no server can be used, saying why once; servers are
 * capped and evicted least recently used; a server whose env was replaced on
 * disk is replaced too; and closing the pool leaves no process behind.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { Logger } from '../../services/common/logger';
import { ForkServerPool } from '../../services/worker/bridge/fork-pool';
import { CollectingSink, useBridgeHarness, type BridgeHarness } from '../helpers/bridge-harness';
import { FORK_SERVER, type LogLine } from '../helpers/fork-harness';
import { pidAlive } from '../helpers/proc-inspect';
import { waitFor } from '../helpers/wait';

const WHO = `
import os, sys
import pyarrow as pa
def parse(path):
    return pa.table({"pid": [os.getpid()], "ppid": [os.getppid()], "argv0": [os.path.basename(sys.argv[0])]})
`;
const SLOW = 'import time\nimport pyarrow as pa\nfrom casparian import log\ndef parse(path):\n    log("running")\n    time.sleep(1)\n    return pa.table({"a": [1]})\n';

function pool(script: string, logs: LogLine[], over: { maxServers?: number } = {}): ForkServerPool {
  const logger = new Logger({ level: 'debug', format: 'json', write: (l) => logs.push(JSON.parse(l) as LogLine) });
  return new ForkServerPool({ script, hostEnv: process.env, logger, maxServers: over.maxServers ?? 2, maxIdleGuests: 2, retryAfterMs: 60_000 });
}

async function who(h: BridgeHarness, p: ForkServerPool, envHash: string, python = h.python): Promise<{ pid: number; ppid: number; argv0: string }> {
  const { outcome, sink } = await h.run(WHO, undefined, {}, undefined, p.launcher({ envHash, python }));
  assert.equal(outcome.status, 'succeeded', JSON.stringify(outcome.error));
  const r = tableFromIPC(sink.bytes('default')).get(0)!.toJSON();
  return { pid: Number(r.pid), ppid: Number(r.ppid), argv0: String(r.argv0) };
}

const envA = 'a'.repeat(64);
const envB = 'b'.repeat(64);

describe('bridge: the fork server pool (real python)', function () {
  this.timeout(180_000);
  const h = useBridgeHarness('bridge-fork-pool-test-', 'id\n1\n');

  it('falls back to spawn when the server cannot start, and says why once', async () => {
    const broken = path.join(h.work, 'broken_server.py');
    fs.writeFileSync(broken, 'import sys\nprint("this fork server is broken", file=sys.stderr)\nsys.exit(3)\n');
    const logs: LogLine[] = [];
    const p = pool(broken, logs);
    try {
      for (let i = 0; i < 3; i++) {
        const g = await who(h, p, envA);
        assert.equal(g.argv0, 'bridge_shim.py', 'a spawned shim ran the job');
        assert.equal(g.ppid, process.pid, "the guest is the worker's own child");
      }
      const why = logs.filter((l) => l.level === 'warn' && /spawn a fresh interpreter/.test(l.msg));
      assert.equal(why.length, 1, `logged once, not per job: ${JSON.stringify(why)}`);
      assert.match(String(why[0].reason), /exited with code 3: this fork server is broken/);
      assert.equal(logs.filter((l) => l.msg === 'fork server died').length, 1, 'and not started again for every job');
    } finally {
      await p.close();
    }
  });

  it('refuses a server that has threads after its imports (fork would be unsafe), and spawns', async () => {
    const threaded = path.join(h.work, 'threaded_server.py');
    fs.writeFileSync(
      threaded,
      [
        'import json, os, struct, sys, threading, time',
        'threading.Thread(target=time.sleep, args=(60,), daemon=True).start()',
        'body = json.dumps({"pid": os.getpid(), "python_version": "3", "pyarrow_version": "x", "threads": 2}).encode()',
        'os.write(1, struct.pack(">BI", 0x50, len(body)) + body)',
        'sys.stdin.read()',
      ].join('\n'),
    );
    const logs: LogLine[] = [];
    const p = pool(threaded, logs);
    try {
      assert.equal((await who(h, p, envA)).argv0, 'bridge_shim.py');
      const why = logs.find((l) => l.level === 'warn' && /spawn a fresh interpreter/.test(l.msg));
      assert.match(String(why?.reason), /runs 2 threads after its imports/);
      assert.deepEqual(p.serverPids(), new Map(), 'the refused server was stopped');
    } finally {
      await p.close();
    }
  });

  it('caps the servers: the least recently used idle one makes room, and a busy one never does', async () => {
    const logs: LogLine[] = [];
    const p = pool(FORK_SERVER, logs, { maxServers: 1 });
    try {
      const a = await who(h, p, envA);
      const serverA = p.serverPids().get(envA)!;
      assert.equal(a.ppid, serverA);
      const b = await who(h, p, envB);
      const serverB = p.serverPids().get(envB)!;
      assert.equal(b.ppid, serverB);
      assert.deepEqual([...p.serverPids().keys()], [envB], 'A made room for B');
      await waitFor('the evicted server to be gone', () => !pidAlive(serverA), 5_000, 50);
      assert.ok(logs.some((l) => l.msg === 'stopping the least recently used fork server' && l.envHash === envA.slice(0, 12)));

      // B is busy: A cannot have a server now, and spawns.
      let running!: () => void;
      const isRunning = new Promise<void>((resolve) => (running = resolve));
      const busy = h.run(SLOW, new CollectingSink((e) => void (e.kind === 'log' && running())), {}, undefined, p.launcher({ envHash: envB, python: h.python }));
      await isRunning;
      const spawned = await who(h, p, envA);
      assert.equal(spawned.argv0, 'bridge_shim.py');
      assert.equal((await busy).outcome.status, 'succeeded');
      assert.ok(logs.some((l) => l.level === 'warn' && /fork servers \(--fork-servers\) are serving/.test(String(l.reason))));
    } finally {
      await p.close();
    }
  });

  it('replaces a server whose env was replaced on disk', async () => {
    // A stand-in env: pyvenv.cfg and lib of the real one, its bin/python a symlink.
    const real = path.dirname(path.dirname(h.python));
    const env = path.join(h.work, 'env');
    const make = (): string => {
      fs.mkdirSync(path.join(env, 'bin'), { recursive: true });
      fs.copyFileSync(path.join(real, 'pyvenv.cfg'), path.join(env, 'pyvenv.cfg'));
      fs.symlinkSync(path.join(real, 'lib'), path.join(env, 'lib'));
      fs.symlinkSync(fs.readlinkSync(h.python).startsWith('/') ? fs.readlinkSync(h.python) : path.resolve(path.dirname(h.python), fs.readlinkSync(h.python)), path.join(env, 'bin', 'python'));
      return path.join(env, 'bin', 'python');
    };
    const python = make();
    const logs: LogLine[] = [];
    const p = pool(FORK_SERVER, logs);
    try {
      const first = await who(h, p, envA, python);
      assert.equal(first.ppid, p.serverPids().get(envA));
      fs.renameSync(env, `${env}.old`);
      make();
      const second = await who(h, p, envA, python);
      assert.notEqual(second.ppid, first.ppid, 'a new server for the new env directory');
      assert.equal(second.ppid, p.serverPids().get(envA));
      assert.ok(!pidAlive(first.ppid), 'the old server was stopped');
    } finally {
      await p.close();
    }
  });

  it('leaves no process behind when closed', async () => {
    const p = pool(FORK_SERVER, []);
    const { outcome } = await h.run(WHO, undefined, {}, undefined, p.launcher({ envHash: envA, python: h.python, reuseKey: 'k' }));
    assert.equal(outcome.exitCode, null, 'a reusable guest stays');
    const server = p.serverPids().get(envA)!;
    await p.close();
    await waitFor('the server and its idle guest to be gone', () => !pidAlive(server) && !pidAlive(outcome.pid!), 5_000, 50);
    assert.deepEqual(p.serverPids(), new Map());
  });
});
