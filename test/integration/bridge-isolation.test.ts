/**
 * What a guest can see: not the worker's environment, not the bridge token,
 * not the plugin source outside the socket.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tableFromIPC } from 'apache-arrow';
import { useBridgeHarness } from '../helpers/bridge-harness';

describe('bridge guest isolation (real python)', function () {
  this.timeout(180_000);
  const h = useBridgeHarness('bridge-isolation-test-', 'id,name,score\n1,ada,9.5\n2,grace,8.25\n3,linus,7\n');

  it('hides the worker environment and the source from the guest', async () => {
    process.env.CASPARIAN_TEST_SECRET = 'hunter2-secret-value';
    try {
      const { outcome, sink } = await h.run(
        `
import os, sys
import pyarrow as pa
MARKER = "source-marker-" + "7f3a"
def parse(path):
    names = sorted(os.environ)
    joined = "\\n".join(names) + "\\n".join(os.environ.values()) + " ".join(sys.argv)
    return pa.table({
        "names": [",".join(names)],
        "secret_seen": ["hunter2" in joined],
        "marker_seen": [("source-marker-" + "7f3a") in joined or MARKER in open("/proc/self/cmdline").read()],
        "home": [os.environ.get("HOME", "")],
        "cwd": [os.getcwd()],
        "extra": [os.environ.get("CASPARIAN_EXTRA", "")],
    })
`,
        undefined,
        { extraEnv: { CASPARIAN_EXTRA: 'yes' } },
      );
      assert.equal(outcome.status, 'succeeded', JSON.stringify(outcome.error));
      const row = tableFromIPC(sink.bytes('default')).get(0)!.toJSON();
      assert.equal(row.secret_seen, false);
      assert.equal(row.marker_seen, false);
      assert.equal(row.extra, 'yes');
      assert.equal(row.home, row.cwd, 'HOME is the private directory');
      assert.match(row.home as string, /casparian-bridge-/);
      const names = (row.names as string).split(',');
      assert.ok(!names.includes('CASPARIAN_TEST_SECRET'));
      assert.ok(!names.includes('CASPARIAN_BRIDGE_TOKEN'), 'the shim drops the token before running the plugin');
      assert.ok(fs.existsSync(row.home as string) === false, 'the private directory was removed');
    } finally {
      delete process.env.CASPARIAN_TEST_SECRET;
    }
  });

});
