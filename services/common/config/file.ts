/**
 * The optional config file (`--config FILE`, `CASPARIAN_CONFIG`): YAML
 * (`.yaml`, `.yml`) or JSON (`.json`). Its keys are the settings' names
 * (settings.ts). Top-level keys apply to every service that reads them; a
 * `sentinel:` or `worker:` section holds keys for that service only and wins
 * over the top level. Every value is validated when the file is loaded, so a
 * bad one fails at startup naming the file, the line and the key, whichever
 * service is starting; so does an unknown key, with the closest known one.
 * Relative paths in the file are relative to the file's directory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as Yaml from 'yaml';
import { ConfigError } from '../config-error';
import { parseValue } from './kinds';
import { isKey, KEYS, SETTINGS, type Key, type Service, type Setting } from './settings';

export const SECTIONS = ['sentinel', 'worker'] as const;
export type Section = (typeof SECTIONS)[number];

export interface FileValue {
  value: unknown;
  /** Where it was written: `x.yaml:3`. */
  at: string;
  /** For messages: `config file x.yaml:3: sentinel.port`. */
  label: string;
}

export interface ConfigFile {
  /** As given (a flag or variable): messages name it so. */
  path: string;
  top: ReadonlyMap<Key, FileValue>;
  sections: Readonly<Record<Section, ReadonlyMap<Key, FileValue>>>;
}

const EXTENSIONS = ['.yaml', '.yml', '.json'];

/** The YAML parser, loaded only when a config file is read: every CLI command pays for what it loads at startup. */
const yaml = (): typeof Yaml => require('yaml') as typeof Yaml;

export function loadConfigFile(file: string): ConfigFile {
  const fail = (msg: string, line?: number): never => {
    throw new ConfigError(`config file ${file}${line ? `:${line}` : ''}: ${msg}`);
  };
  if (!EXTENSIONS.includes(path.extname(file).toLowerCase())) fail(`name it ${EXTENSIONS.join(', ')}: its extension says how to read it`);
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    fail(`cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (path.extname(file).toLowerCase() === '.json') checkJson(text, fail);
  // JSON is YAML too: the YAML parser finds the line of every key in both.
  const { isMap, isNode, isScalar, LineCounter, parseDocument } = yaml();
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  if (doc.errors.length) fail(doc.errors[0].message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, ''), doc.errors[0].linePos?.[0].line);
  const lineOf = (n: unknown): number | undefined => (isNode(n) && n.range ? lines.linePos(n.range[0]).line : undefined);

  const base = path.dirname(path.resolve(file));
  const top = new Map<Key, FileValue>();
  const sections = { sentinel: new Map<Key, FileValue>(), worker: new Map<Key, FileValue>() };
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return { path: file, top, sections };
  if (!isMap(root)) fail('must be a mapping of setting names to values', lineOf(root));

  const read = (into: Map<Key, FileValue>, key: Key, node: unknown, name: string, line: number | undefined): void => {
    const at = `${file}${line ? `:${line}` : ''}`;
    const label = `config file ${at}: ${name}`;
    const setting = SETTINGS[key] as Setting<unknown>;
    let value = parseValue(setting.kind, toJs(node, doc), label);
    if (setting.kind.paths) value = Array.isArray(value) ? value.map((p: string) => path.resolve(base, p)) : path.resolve(base, value as string);
    into.set(key, { value, at, label });
  };

  for (const pair of (root as { items: { key: unknown; value: unknown }[] }).items) {
    const name = String(toJs(pair.key, doc));
    const line = lineOf(pair.key);
    if ((SECTIONS as readonly string[]).includes(name)) {
      const section = name as Section;
      if (pair.value === null || (isScalar(pair.value) && pair.value.value === null)) continue;
      if (!isMap(pair.value)) fail(`${section} must be a mapping of setting names to values`, line);
      for (const inner of (pair.value as { items: { key: unknown; value: unknown }[] }).items) {
        const key = String(toJs(inner.key, doc));
        const at = lineOf(inner.key);
        if (!isKey(key)) fail(unknown(`${section}.${key}`, key), at);
        const services = SETTINGS[key as Key].services;
        if (!services.includes(section)) fail(`${section}.${key} is not a setting of the ${section} (it is read by: ${services.join(', ')}); put it at the top level or in its own section`, at);
        read(sections[section], key as Key, inner.value, `${section}.${key}`, at);
      }
    } else if (isKey(name)) {
      read(top, name, pair.value, name, line);
    } else {
      fail(unknown(name, name), line);
    }
  }
  return { path: file, top, sections };
}

function toJs(node: unknown, doc: Yaml.Document): unknown {
  return yaml().isNode(node) ? (node as Yaml.Node).toJS(doc) : node;
}

function checkJson(text: string, fail: (msg: string, line?: number) => never): void {
  try {
    JSON.parse(text);
  } catch (e) {
    // V8 names a position for some errors only, and quotes the whole text for others.
    const msg = (e as Error).message.replace(/, ".*" is not valid JSON$/s, '');
    const at = /position (\d+)/.exec(msg);
    const named = /\(line (\d+) column \d+\)/.exec(msg); // newer V8
    const line = at ? text.slice(0, Number(at[1])).split('\n').length : named ? Number(named[1]) : yaml().parseDocument(text).errors[0]?.linePos?.[0].line;
    fail(`not valid JSON (${msg})`, line);
  }
}

function unknown(name: string, key: string): string {
  const near = closest(key);
  return `unknown setting "${name}"${near ? ` (did you mean "${near}"?)` : ''}; the settings are listed in docs/operations.md#configuration`;
}

/** The known key nearest to `key`: spelled alike ignoring case and dashes (`data-dir`), or within a few edits. */
export function closest(key: string): string | undefined {
  const norm = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');
  const candidates: string[] = [...KEYS, ...SECTIONS];
  const same = candidates.find((k) => norm(k) === norm(key));
  if (same) return same;
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const k of candidates) {
    const d = editDistance(norm(k), norm(key));
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** Which file section a service reads besides the top level (a client reads the top level only). */
export function sectionOf(service: Service): Section | undefined {
  return service === 'client' ? undefined : service;
}
