import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as arrow from 'apache-arrow';
import { JobFailure } from '../../../services/common/job-error';
import { silentLogger } from '../../../services/common/logger';
import { LocalOutputStore } from '../../../services/sentinel/sinks/output-store';
import type { OutputWriterFactory } from '../../../services/sentinel/sinks/output-writer';
import { ParquetHelper } from '../../../services/sentinel/sinks/parquet-helper';
import { PyarrowWriterFactory } from '../../../services/sentinel/sinks/pyarrow-writer';
import { pyarrowPython } from '../../helpers/python-env';
import { sampleTable, tempDataDir, tree } from './helpers';
import { outputStoreSuite } from './output-store-suite';

/**
 * One helper for the whole file; each store gets a factory whose close() leaves
 * it running. Stores read back through the helper too (helper-reader.ts).
 */
let helper: ParquetHelper | undefined;
let sockDir = '';

function sharedWriters(): OutputWriterFactory {
  const f = new PyarrowWriterFactory(helper!);
  return { kind: f.kind, appliesRules: f.appliesRules, open: (stem, o) => f.open(stem, o), readIpc: (p) => f.readIpc(p), close: async () => undefined };
}

describe('pyarrow writer (the Parquet helper process)', () => {
  before(async function () {
    this.timeout(600_000); // the first test to need the pyarrow env provisions it
    sockDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ph-'));
    helper = new ParquetHelper(await pyarrowPython(), path.join(sockDir, 'h.sock'), silentLogger);
    await helper.start();
  });
  after(async () => {
    await helper?.stop();
    fs.rmSync(sockDir, { recursive: true, force: true });
  });

  outputStoreSuite({
    title: 'pyarrow writer',
    writers: sharedWriters,
    // Converted as it arrives: only the Parquet file being written is staged.
    streaming: (name) => [`${name}.parquet`],
    afterFailedSeal: () => [],
    // Batches are gathered into row groups of up to DEFAULT_PYARROW_WRITER.rowGroupRows.
    rowGroups: (rows) => [rows],
  });

  describe('when the helper dies', () => {
    let dataDir: string;
    beforeEach(() => (dataDir = tempDataDir()));
    afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

    it('fails the attempt as a transient INTERNAL error, not the plugin\'s fault, and the next attempt gets a new helper', async () => {
      const store = new LocalOutputStore(dataDir, { writers: sharedWriters() });
      const bytes = arrow.tableToIPC(sampleTable(20_000), 'stream');
      const area = store.stage('job-h', 1);
      await area.append('out', bytes.subarray(0, 1000));
      const pid = helper!.pid!;
      process.kill(pid, 'SIGKILL');
      const failure = await area
        .append('out', bytes.subarray(1000))
        .then(() => area.seal())
        .then(
          () => assert.fail('the attempt must fail'),
          (err: unknown) => err,
        );
      assert.ok(failure instanceof JobFailure, `expected a JobFailure, got ${String(failure)}`);
      assert.equal(failure.jobError.code, 'INTERNAL');
      assert.equal(failure.jobError.errorClass, 'transient');
      await area.discard();
      assert.equal(fs.existsSync(area.dir), false);

      const again = store.stage('job-h', 2);
      await again.append('out', bytes);
      const [staged] = await again.seal();
      assert.equal(staged.rows, 20_000);
      assert.notEqual(helper!.pid, pid);
      await again.publish();
      assert.deepEqual(tree(path.join(dataDir, 'outputs')), ['job-h', 'job-h/attempt-2', 'job-h/attempt-2/out.parquet']);
    });
  });
});
