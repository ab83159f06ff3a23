import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pidAlive } from '../../../services/worker/envs/file-lock';
import { runCommand, TailBuffer } from '../../../services/worker/envs/run-command';

describe('envs/run-command', () => {
  it('captures interleaved output into the tail, the sink and lines', async () => {
    const tail = new TailBuffer(1024);
    let sunk = '';
    const lines: string[] = [];
    const r = await runCommand('sh', ['-c', 'echo out; echo err >&2; exit 3'], {
      env: process.env,
      timeoutMs: 10_000,
      tail,
      sink: (s) => (sunk += s),
      onLine: (l) => lines.push(l),
    });
    assert.equal(r.code, 3);
    assert.equal(r.timedOut, false);
    assert.match(tail.text(), /^\$ sh -c 'echo out; echo err >&2; exit 3'\n/);
    assert.match(sunk, /out\n/);
    assert.deepEqual(lines.sort(), ['err', 'out']);
  });

  it('kills the whole process group on timeout', async function () {
    this.timeout(15_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-run-'));
    const pidFile = path.join(dir, 'child.pid');
    try {
      const started = Date.now();
      const r = await runCommand('sh', ['-c', `sleep 30 & echo $! > ${pidFile}; wait`], { env: process.env, timeoutMs: 500, killGraceMs: 500 });
      assert.equal(r.timedOut, true);
      assert.ok(Date.now() - started < 5000);
      const child = Number(fs.readFileSync(pidFile, 'utf8'));
      await new Promise((res) => setTimeout(res, 100));
      assert.equal(pidAlive(child), false, 'the grandchild sleep survived');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a command that cannot start', async () => {
    const r = await runCommand('/nonexistent/casparian-python', [], { env: process.env, timeoutMs: 1000 });
    assert.equal((r.spawnError as NodeJS.ErrnoException | undefined)?.code, 'ENOENT');
  });

  it('keeps only the tail', () => {
    const t = new TailBuffer(10);
    for (let i = 0; i < 100; i++) t.write('abcdefghij');
    assert.equal(t.text(), '…abcdefghij');
  });
});
