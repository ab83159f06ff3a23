import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { quickCheck, sameContent, sha256File } from '../../../services/sentinel/scan/file-identity';

describe('unit: file identity', () => {
  it('size and mtime decide whether to read; the hash whether the content changed', () => {
    const known = { size: 10, mtime_us: 5, sha256: 'aa' };
    assert.equal(quickCheck(undefined, { size: 10, mtimeUs: 5 }), 'hash');
    assert.equal(quickCheck(known, { size: 10, mtimeUs: 5 }), 'unchanged');
    assert.equal(quickCheck(known, { size: 10, mtimeUs: 6 }), 'hash');
    assert.equal(quickCheck(known, { size: 11, mtimeUs: 5 }), 'hash');
    assert.equal(sameContent(known, 'aa'), true);
    assert.equal(sameContent(known, 'bb'), false);
    assert.equal(sameContent(undefined, 'aa'), false);
  });

  it('sha256File hashes empty, small, exactly-one-piece and multi-piece files; a missing file rejects', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scan-hash-'));
    try {
      for (const n of [0, 5, 65_536, 65_537, 300_000]) {
        const body = Buffer.alloc(n, n % 251);
        for (let i = 0; i < n; i += 997) body[i] = i % 256;
        const f = path.join(dir, `f${n}`);
        fs.writeFileSync(f, body);
        assert.equal(await sha256File(f), createHash('sha256').update(body).digest('hex'), `${n} bytes`);
      }
      await assert.rejects(sha256File(path.join(dir, 'missing')), /ENOENT/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
