/**
 * What a lockfile is and what it asks for.
 *
 * Two kinds are recognised:
 *  - `uv-lock`: a uv.lock (TOML). Recognised when the first line that is not
 *    blank or a `#` comment is `version = N` and the file has a `[[package]]`
 *    table. Provisioned with `uv sync --frozen` (uv backend only).
 *  - `requirements`: anything else, a pip requirements file with pinned
 *    versions (`pkg==1.2.3`, optionally `--hash=sha256:...`).
 *
 * Python requirement convention:
 *  - requirements: a comment line `# python: SPEC` (also `# requires-python: SPEC`),
 *    e.g. `# python: 3.11` or `# python: >=3.10,<3.13` (see python-spec.ts).
 *  - uv.lock: the top-level `requires-python = "SPEC"` that uv writes.
 */
import { parsePythonSpec, PythonSpec } from './python-spec';

export type LockfileKind = 'requirements' | 'uv-lock';

export interface LockfileInfo {
  kind: LockfileKind;
  /** Requirements lockfile pins hashes (`--hash=`), so installs use --require-hashes. */
  hasHashes: boolean;
  /** The interpreter the lockfile needs, if it says. */
  python?: PythonSpec;
  /** uv.lock only: the name of the root (virtual/editable ".") package, if any. */
  rootPackage?: string;
}

const PY_COMMENT_RE = /^#\s*(?:python|requires-python)\s*:\s*(.+?)\s*$/i;

export function isUvLock(text: string): boolean {
  const first = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l.length > 0 && !l.startsWith('#'));
  return first !== undefined && /^version\s*=\s*\d+\s*$/.test(first) && /^\[\[package\]\]\s*$/m.test(text);
}

/** Inspects a lockfile; throws an Error with a clear message when a python requirement cannot be parsed. */
export function inspectLockfile(text: string): LockfileInfo {
  if (isUvLock(text)) {
    const m = /^requires-python\s*=\s*"([^"]+)"/m.exec(text);
    return {
      kind: 'uv-lock',
      hasHashes: false,
      python: m ? parsePythonSpec(m[1]) : undefined,
      rootPackage: uvLockRootPackage(text),
    };
  }
  let python: PythonSpec | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const m = PY_COMMENT_RE.exec(raw.trim());
    if (m) python = parsePythonSpec(m[1]);
  }
  return { kind: 'requirements', hasHashes: /--hash[=\s]/.test(text), python };
}

/** The `[[package]]` whose source is the project itself (`virtual = "."` or `editable = "."`). */
function uvLockRootPackage(text: string): string | undefined {
  for (const block of text.split(/^\[\[package\]\]\s*$/m).slice(1)) {
    const body = block.split(/^\[(?!\[package\])/m)[0];
    const name = /^name\s*=\s*"([^"]+)"/m.exec(body)?.[1];
    if (name && /^source\s*=\s*\{\s*(?:virtual|editable)\s*=\s*"\."\s*\}/m.test(body)) return name;
  }
  return undefined;
}

/**
 * A minimal pyproject.toml so that `uv sync --frozen` can run against a bare
 * uv.lock: uv needs a project root, but with --frozen it installs exactly what
 * the lock records and does not re-resolve from pyproject.
 */
export function syntheticPyproject(info: LockfileInfo): string {
  const lines = ['[project]', `name = ${JSON.stringify(info.rootPackage ?? 'casparian-plugin-env')}`, 'version = "0.0.0"'];
  if (info.python) lines.push(`requires-python = ${JSON.stringify(info.python.text)}`);
  lines.push('dependencies = []', '');
  return lines.join('\n');
}
