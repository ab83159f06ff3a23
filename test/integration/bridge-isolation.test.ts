/**
 * What a guest can see: not the worker's environment (its secrets), not the
 * bridge token once the shim has read it, and not the plugin source anywhere
 * but in the JOB_SPEC frame on its private socket — not in its environment,
 * not in its argv. Checked from inside the guest and, while it runs, from the
 * test side through /proc/PID/environ and /proc/PID/cmdline.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tableFromIPC } from 'apache-arrow';
import { CollectingSink, useBridgeHarness } from '../helpers/bridge-harness';

/** Never written whole in this file: only the plugin source below contains it. */
const NEEDLE = ['casparian', 'source', 'marker', '7f3a9c'].join('-');
const SECRET = ['hunter2', 'secret', 'value'].join('-');

/**
 * The plugin carries NEEDLE whole in a comment (its first line), and builds it
 * from parts for its own checks. It reports its pid, waits until the test has
 * read its /proc entries (the input's ".go" file), then returns what it saw.
 */
const SOURCE = `# ${NEEDLE}: this comment puts the marker into the source
import os, sys, time
import pyarrow as pa
from casparian import log

NEEDLE = "-".join(["casparian", "source", "marker", "7f3a9c"])
SECRET = "-".join(["hunter2", "secret", "value"])

def read(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")

def parse(path):
    log("pid %d" % os.getpid())
    deadline = time.time() + 30
    while not os.path.exists(path + ".go") and time.time() < deadline:
        time.sleep(0.02)
    names = sorted(os.environ)
    visible = {
        "environ": "\\n".join("%s=%s" % kv for kv in os.environ.items()),
        "argv": " ".join(sys.argv),
        "proc_cmdline": read("/proc/self/cmdline"),
        "proc_environ": read("/proc/self/environ"),
    }
    return pa.table({
        "names": [",".join(names)],
        "needle_in": [",".join(k for k, v in visible.items() if NEEDLE in v)],
        "secret_in": [",".join(k for k, v in visible.items() if SECRET in v)],
        "home": [os.environ.get("HOME", "")],
        "cwd": [os.getcwd()],
        "extra": [os.environ.get("CASPARIAN_EXTRA", "")],
    })
`;

describe('bridge guest isolation (real python)', function () {
  this.timeout(180_000);
  const h = useBridgeHarness('bridge-isolation-test-', 'id\n1\n');

  it('hides the worker environment and the source from the guest', async () => {
    assert.ok(SOURCE.includes(NEEDLE), 'the source contains the marker whole');
    const fromOutside: { pid: number; environ: string; cmdline: string }[] = [];
    const sink = new CollectingSink((e) => {
      if (e.kind !== 'log' || !e.message.startsWith('pid ')) return;
      const pid = Number(e.message.slice(4));
      fromOutside.push({ pid, environ: fs.readFileSync(`/proc/${pid}/environ`, 'utf8'), cmdline: fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') });
      fs.writeFileSync(`${h.csvPath}.go`, '');
    });
    process.env.CASPARIAN_TEST_SECRET = SECRET;
    try {
      const { outcome } = await h.run(SOURCE, sink, { extraEnv: { CASPARIAN_EXTRA: 'yes' } });
      assert.equal(outcome.status, 'succeeded', JSON.stringify(outcome.error));
      const row = tableFromIPC(sink.bytes('default')).get(0)!.toJSON();

      // From inside: neither the source nor the worker's secret, wherever a process can look.
      assert.equal(row.needle_in, '', `the plugin source is visible to the guest in: ${row.needle_in}`);
      assert.equal(row.secret_in, '', `the worker's secret is visible to the guest in: ${row.secret_in}`);
      const names = (row.names as string).split(',');
      assert.ok(!names.includes('CASPARIAN_TEST_SECRET'));
      assert.ok(!names.includes('CASPARIAN_BRIDGE_TOKEN'), 'the shim drops the token before running the plugin');
      assert.equal(row.extra, 'yes');
      assert.equal(row.home, row.cwd, 'HOME is the private directory');
      assert.match(row.home as string, /casparian-bridge-/);
      assert.ok(fs.existsSync(row.home as string) === false, 'the private directory was removed');

      // From outside, while the guest ran: its initial environment and its command line.
      assert.equal(fromOutside.length, 1, 'the guest reported its pid once');
      const [seen] = fromOutside;
      assert.equal(seen.pid, outcome.pid);
      assert.ok(seen.cmdline.includes('bridge_shim.py'), `read the guest's own cmdline: ${seen.cmdline}`);
      assert.ok(seen.environ.includes('CASPARIAN_EXTRA=yes'), "read the guest's own environ");
      assert.ok(!seen.cmdline.includes(NEEDLE), 'the source is not in the guest command line');
      assert.ok(!seen.environ.includes(NEEDLE), 'the source is not in the guest environment');
      assert.ok(!seen.environ.includes(SECRET), "the worker's secret is not in the guest environment");
    } finally {
      delete process.env.CASPARIAN_TEST_SECRET;
    }
  });
});
