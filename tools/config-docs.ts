/**
 * The settings table in docs/operations.md is generated from the declaration
 * table (services/common/config/settings.ts): `npm run docs:config` rewrites
 * it; test/unit/common/config-docs.test.ts fails when it is out of date.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KEYS, SETTINGS, type Setting } from '../services/common/config/settings';

export const BEGIN = '<!-- settings: generated from services/common/config/settings.ts by `npm run docs:config`; edit there -->';
export const END = '<!-- end of generated settings -->';
export const OPERATIONS_MD = path.join('docs', 'operations.md');

const UNITS: [number, string][] = [[1024 ** 3, 'GiB'], [1024 ** 2, 'MiB']];

function shown(key: string, s: Setting<unknown>): string {
  if (s.defaultDoc) return s.defaultDoc;
  const d = s.default;
  if (d === undefined) return 'unset';
  if (Array.isArray(d)) return d.length ? `\`${d.join(',')}\`` : 'none';
  if (typeof d === 'number' && /Bytes$/.test(key)) {
    const unit = UNITS.find(([n]) => d >= n && d % n === 0);
    if (unit) return `\`${d}\` (${d / unit[0]} ${unit[1]})`;
  }
  return `\`${String(d)}\``;
}

const cell = (s: string): string => s.replace(/\|/g, '\\|');

/** The table, one row per setting, in declaration order. */
export function settingsTable(): string {
  const rows = KEYS.map((key) => {
    const s = SETTINGS[key] as Setting<unknown>;
    const secret = s.secret === 'value' ? ' Secret: `config print` shows `[redacted]`.' : s.secret === 'url' ? ' `config print` masks credentials in it.' : '';
    return `| \`${key}\` | ${s.flag ? `\`--${s.flag}\`` : '—'} | ${s.env ? `\`${s.env}\`` : '—'} | ${shown(key, s)} | ${s.services.join(', ')} | ${cell(s.description + secret)} |`;
  });
  return ['| file key | flag | variable | default | read by | what |', '| --- | --- | --- | --- | --- | --- |', ...rows].join('\n');
}

/** `markdown` with the text between the markers replaced by the current table. */
export function withSettingsTable(markdown: string): string {
  const a = markdown.indexOf(BEGIN);
  const b = markdown.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${OPERATIONS_MD} has no settings markers (${BEGIN} … ${END})`);
  return `${markdown.slice(0, a + BEGIN.length)}\n${settingsTable()}\n${markdown.slice(b)}`;
}

if (require.main === module) {
  const file = path.resolve(__dirname, '..', '..', OPERATIONS_MD);
  fs.writeFileSync(file, withSettingsTable(fs.readFileSync(file, 'utf8')));
  process.stdout.write(`wrote the settings table in ${OPERATIONS_MD}\n`);
}
