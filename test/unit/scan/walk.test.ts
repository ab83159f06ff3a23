import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { compileGlob } from '../../../services/sentinel/scan/scan-glob';
import { walkFiles, type WalkEntry } from '../../../services/sentinel/scan/walk';

describe('unit: scan walk', () => {
  let root: string;
  let outside: string;
  beforeEach(() => {
    root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'scan-walk-')));
    outside = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'scan-outside-')));
  });
  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  });
  const put = (rel: string, body = 'x'): string => {
    const f = path.join(root, rel);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, body);
    return f;
  };
  const walk = async (glob = '', allowed = (p: string) => fs.realpathSync(p).startsWith(root + path.sep)): Promise<WalkEntry[]> => {
    const out: WalkEntry[] = [];
    for await (const e of walkFiles(root, { match: compileGlob(glob), allowed })) out.push(e);
    return out.sort((a, b) => a.path.localeCompare(b.path));
  };
  const files = (es: WalkEntry[]) => es.filter((e) => e.kind === 'file').map((e) => path.relative(root, e.path));

  it('yields regular files at every depth with size and mtime (µs), filtered by the glob', async () => {
    const a = put('a.csv', 'hello');
    put('d/b.csv');
    put('d/e/c.csv');
    put('d/e/c.txt');
    fs.utimesSync(a, 1_700_000_000.5, 1_700_000_000.5); // exact in a double
    const es = await walk('*.csv');
    assert.deepEqual(files(es), ['a.csv', 'd/b.csv', 'd/e/c.csv']);
    assert.deepEqual(es[0], { kind: 'file', path: a, size: 5, mtimeUs: 1_700_000_000_500_000 });
    assert.deepEqual(files(await walk()), ['a.csv', 'd/b.csv', 'd/e/c.csv', 'd/e/c.txt']);
  });

  it('passes over hidden entries, FIFOs and symlinked directories', async () => {
    put('.hidden.csv');
    put('.git/x.csv');
    put('d/.h/y.csv');
    put('real/z.csv');
    execFileSync('mkfifo', [path.join(root, 'pipe.csv')]);
    fs.symlinkSync(path.join(root, 'real'), path.join(root, 'link-dir'));
    fs.symlinkSync(outside, path.join(root, 'out-dir'));
    assert.deepEqual(files(await walk()), ['real/z.csv']);
  });

  it('follows a symlinked file inside the roots; one leading out, or dangling, is an error', async () => {
    put('t.csv');
    fs.symlinkSync(path.join(root, 't.csv'), path.join(root, 'in.csv'));
    fs.writeFileSync(path.join(outside, 'secret.csv'), 's');
    fs.symlinkSync(path.join(outside, 'secret.csv'), path.join(root, 'out.csv'));
    fs.symlinkSync(path.join(root, 'nothing'), path.join(root, 'dangling.csv'));
    const es = await walk();
    assert.deepEqual(files(es), ['in.csv', 't.csv']);
    const errors = es.filter((e) => e.kind === 'error').map((e) => [path.basename(e.path), e.kind === 'error' && e.message]);
    assert.equal(errors.length, 2);
    assert.match(String(errors[0][1]), /ENOENT/);
    assert.equal(errors[0][0], 'dangling.csv');
    assert.deepEqual(errors[1], ['out.csv', 'symlink leads outside the input roots']);
  });
});
