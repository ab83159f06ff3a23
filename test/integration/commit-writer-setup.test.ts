/**
 * The Sentinel chooses its commit writer once, at startup (writer-setup.ts):
 * the pyarrow helper when its env can be had, else (auto) parquet-wasm in a
 * worker thread, which still commits; `--commit-writer pyarrow` refuses to
 * start without it.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as arrow from 'apache-arrow';
import { compileSentinelConfig } from '../../services/common/config';
import { Logger } from '../../services/common/logger';
import { Sentinel } from '../../services/sentinel/sentinel';
import { testHome } from '../helpers/python-env';
import { testIndexUrl } from '../helpers/pip-index';

/** A logger that keeps every line. */
function recordingLogger(lines: string[]): Logger {
  return new Logger({ level: 'debug', format: 'json', write: (l) => lines.push(l) });
}

describe('integration: the Sentinel chooses its commit writer at startup', function () {
  this.timeout(300_000);
  let root: string;
  beforeEach(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'writer-setup-'))));
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  /** A Sentinel config whose helper env cannot be built: an empty home and no such interpreter. */
  const noPython = (mode: string) =>
    compileSentinelConfig({ 'data-dir': path.join(root, 'data'), port: '0', home: path.join(root, 'home'), python: path.join(root, 'no-such-python'), 'commit-writer': mode }, {});

  it('auto without a usable Python: falls back to parquet-wasm in a thread, says why, and still commits', async () => {
    const lines: string[] = [];
    const s = await Sentinel.open(noPython('auto'), recordingLogger(lines), undefined, process.env);
    try {
      assert.equal(s.store.writers.kind, 'wasm');
      assert.ok(lines.some((l) => l.includes('no pyarrow helper')), lines.join('\n'));
      const area = s.store.stage('job-1', 1);
      await area.append('out', arrow.tableToIPC(arrow.tableFromArrays({ x: Int32Array.of(1, 2, 3) }), 'stream'));
      const [staged] = await area.seal();
      assert.equal(staged.rows, 3);
    } finally {
      await s.shutdown(1_000);
    }
  });

  it('--commit-writer pyarrow without a usable Python: the Sentinel does not start', async () => {
    await assert.rejects(Sentinel.open(noPython('pyarrow'), recordingLogger([]), undefined, process.env));
  });

  it('--commit-writer wasm: no Python is looked for', async () => {
    const s = await Sentinel.open(noPython('wasm'), recordingLogger([]), undefined, process.env);
    try {
      assert.equal(s.store.writers.kind, 'wasm');
      assert.equal(fs.existsSync(path.join(root, 'home')), false, 'no env home was touched');
    } finally {
      await s.shutdown(1_000);
    }
  });

  it('auto with the run\'s env home: the pyarrow helper, provisioned or found at startup', async () => {
    const index = testIndexUrl();
    const cfg = compileSentinelConfig({ 'data-dir': path.join(root, 'data'), port: '0', home: testHome(), ...(index ? { 'index-url': index } : {}) }, {});
    const lines: string[] = [];
    const s = await Sentinel.open(cfg, recordingLogger(lines), undefined, process.env);
    try {
      assert.equal(s.store.writers.kind, 'pyarrow');
      assert.ok(lines.some((l) => l.includes('commit writer: pyarrow helper')), lines.join('\n'));
    } finally {
      await s.shutdown(1_000);
    }
  });
});
