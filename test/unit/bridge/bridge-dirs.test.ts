import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../../../services/common/logger';
import { sweepStaleBridgeDirs } from '../../../services/worker/bridge/bridge-dirs';

describe('unit: bridge dir sweep', () => {
  it("removes only the bridge and fork server dirs of dead workers", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-sweep-'));
    try {
      const dead = path.join(tmp, 'casparian-bridge-999999999-abc');
      const deadServer = path.join(tmp, 'casparian-forkserver-999999999-abc');
      const mine = path.join(tmp, `casparian-bridge-${process.pid}-def`);
      const live = path.join(tmp, `casparian-forkserver-${process.ppid}-ghi`);
      const other = path.join(tmp, 'something-else');
      for (const d of [dead, deadServer, mine, live, other]) fs.mkdirSync(d);
      fs.writeFileSync(path.join(dead, 'bridge.sock'), '');
      const removed = sweepStaleBridgeDirs(silentLogger, tmp);
      assert.deepEqual(removed.sort(), [dead, deadServer].sort());
      for (const d of [mine, live, other]) assert.ok(fs.existsSync(d), d);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
