/** The dev-tools helper (bench, tests) that picks a local package index from `pip config list` output. */
import { strict as assert } from 'node:assert';
import { localIndexFromPipConfig } from '../../../tools/pip-index';

describe('unit: tools/pip-index localIndexFromPipConfig', () => {
  it('takes the first file:// entry of extra-index-url when pip has no index-url', () => {
    const list = [
      "global.cert='/etc/ssl/certs/ca.crt'",
      "global.extra-index-url='https://mirror.example/simple file:///srv/a/simple file:///srv/b/simple'",
      "global.find-links='/srv/wheels'",
      '',
    ].join('\n');
    assert.equal(localIndexFromPipConfig(list), 'file:///srv/a/simple');
  });

  it('leaves pip alone when it has an index-url of its own, in any section', () => {
    for (const section of ['global', 'install', ':env:']) {
      const list = `${section}.index-url='https://mirror.example/simple'\nglobal.extra-index-url='file:///srv/a/simple'\n`;
      assert.equal(localIndexFromPipConfig(list), undefined, section);
    }
  });

  it('returns undefined without a local extra index, or without any configuration', () => {
    assert.equal(localIndexFromPipConfig("global.extra-index-url='https://mirror.example/simple'\n"), undefined);
    assert.equal(localIndexFromPipConfig(''), undefined);
  });
});
