/**
 * The package index that dev tools (the bench) and tests install from, read
 * from pip's own configuration.
 *
 * The worker passes `--index-url` to pip/uv only when it is given one (flag or
 * CASPARIAN_PIP_INDEX_URL); otherwise pip's configuration applies untouched.
 * On a host whose pip is set up with local (file://) indexes as
 * `extra-index-url` but no `index-url`, pip would still try the public index
 * first and, offline, spend seconds retrying it on every install. Tools and
 * tests avoid that by passing the first local index as the index, so the
 * product itself never needs to know about this host.
 */
import { execFileSync } from 'node:child_process';

/** `section.key='value'` lines of `pip config list`, e.g. `global.extra-index-url='file:///a file:///b'`. */
const LINE = /^([^=]*)\.([a-z-]+)='(.*)'$/;

/**
 * The first local index pip is configured with, or undefined when pip has an
 * index-url of its own (it already knows where to look) or no local index.
 * Pure: takes the output of `pip config list`.
 */
export function localIndexFromPipConfig(configList: string): string | undefined {
  const values = (key: string): string[] =>
    configList
      .split('\n')
      .map((l) => LINE.exec(l.trim()))
      .filter((m): m is RegExpExecArray => m !== null && m[2] === key)
      .flatMap((m) => m[3].split(/\s+/).filter(Boolean));
  if (values('index-url').length) return undefined;
  return values('extra-index-url').find((u) => u.startsWith('file://'));
}

let cached: { value: string | undefined } | undefined;

/**
 * The index URL to hand to workers, env managers and pip: $CASPARIAN_PIP_INDEX_URL
 * when set, else the first local index from pip's configuration (see above),
 * else undefined (pip's/uv's own configuration applies).
 */
export function pipIndexUrl(): string | undefined {
  if (process.env.CASPARIAN_PIP_INDEX_URL) return process.env.CASPARIAN_PIP_INDEX_URL;
  if (!cached) {
    let list = '';
    try {
      list = execFileSync(process.env.CASPARIAN_PYTHON ?? 'python3', ['-m', 'pip', 'config', 'list'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 30_000,
      });
    } catch {
      /* no pip: its own configuration (none) applies */
    }
    cached = { value: localIndexFromPipConfig(list) };
  }
  return cached.value;
}
