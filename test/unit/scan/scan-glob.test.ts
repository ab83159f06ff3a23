import { strict as assert } from 'node:assert';
import { compileGlob } from '../../../services/sentinel/scan/scan-glob';

describe('unit: scan glob', () => {
  it('a pattern without "/" matches the file name at any depth', () => {
    const m = compileGlob('*.csv');
    assert.deepEqual(['a.csv', 'x/a.csv', 'x/y/b.csv', 'a.txt', 'x.csv/a.txt'].map((p) => m(p)), [true, true, true, false, false]);
  });

  it('a pattern with "/" matches the path relative to the root', () => {
    const m = compileGlob('2024/**/*.csv');
    assert.deepEqual(['2024/a.csv', '2024/01/a.csv', '2023/01/a.csv', 'a.csv'].map((p) => m(p)), [true, true, false, false]);
    assert.deepEqual(['sub/a.csv', 'sub/deep/a.csv'].map((p) => compileGlob('sub/*.csv')(p)), [true, false]);
  });

  it('empty matches every file; braces and classes work', () => {
    assert.ok(compileGlob('')('any/thing'));
    const m = compileGlob('{a,b}[0-9].csv');
    assert.deepEqual(['a1.csv', 'b9.csv', 'c1.csv', 'a.csv'].map((p) => m(p)), [true, true, false, false]);
  });

  it('refuses globs that leave the root or do not parse, as INVALID_ARGUMENT', () => {
    for (const [g, re] of [
      ['/etc/*', /no leading "\/"/],
      ['../*.csv', /"\.\." segment/],
      ['a/../../b', /"\.\." segment/],
      ['[a-', /glob "\[a-" is invalid/],
      ['x'.repeat(1025), /longer than 1024/],
      ['a\0b', /NUL/],
    ] as const) {
      assert.throws(() => compileGlob(g), (e: Error & { code?: number }) => e.code === 3 && re.test(e.message), g.slice(0, 20));
    }
  });
});
