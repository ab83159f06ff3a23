/** docs/operations.md lists every setting as declared: its table is the one generated from config/settings.ts. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SETTINGS } from '../../../services/common/config';
import { OPERATIONS_MD, settingsTable, withSettingsTable } from '../../../tools/config-docs';
import { REPO_ROOT } from '../../helpers/python-env';

describe('unit: settings documentation', () => {
  const doc = fs.readFileSync(path.join(REPO_ROOT, OPERATIONS_MD), 'utf8');

  it('docs/operations.md has a row for every setting, with its flag and variable', () => {
    const rows = doc.split('\n').filter((l) => l.startsWith('| `'));
    for (const [key, s] of Object.entries(SETTINGS)) {
      const row = rows.find((r) => r.startsWith(`| \`${key}\` |`));
      assert.ok(row, `docs/operations.md lists no setting ${key}: run npm run docs:config`);
      if (s.flag) assert.ok(row.includes(`\`--${s.flag}\``), `${key}: --${s.flag} missing`);
      if (s.env) assert.ok(row.includes(`\`${s.env}\``), `${key}: ${s.env} missing`);
    }
  });

  it('its settings table is the generated one (npm run docs:config rewrites it)', () => {
    assert.ok(doc.includes(settingsTable()), 'the settings table in docs/operations.md is out of date: run npm run docs:config');
    assert.equal(withSettingsTable(doc), doc);
  });
});
