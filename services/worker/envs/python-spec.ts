/**
 * A tiny Python version specifier, enough for lockfiles to say which
 * interpreter they need.
 *
 * Grammar: comma-separated clauses, each `OP VERSION` with OP one of
 * `==`, `!=`, `>=`, `<=`, `>`, `<`, `~=`, or a bare `VERSION` (meaning `==`).
 * `==3.11` and bare `3.11` match any 3.11.x (prefix match, as `==3.11.*` in
 * PEP 440); `==3.11.7` matches exactly. Examples: `3.11`, `>=3.10,<3.13`.
 */
export interface PythonSpec {
  text: string;
  clauses: { op: string; version: number[] }[];
}

const CLAUSE_RE = /^(==|!=|>=|<=|~=|>|<)?\s*(\d+(?:\.\d+){0,2})(?:\.\*)?$/;

/** Parses a specifier; throws an Error naming the bad clause. */
export function parsePythonSpec(text: string): PythonSpec {
  const clauses = text
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c.length > 0)
    .map((c) => {
      const m = CLAUSE_RE.exec(c);
      if (!m) throw new Error(`cannot parse Python version clause "${c}" in "${text}"`);
      return { op: m[1] ?? '==', version: m[2].split('.').map(Number) };
    });
  if (clauses.length === 0) throw new Error(`empty Python version requirement "${text}"`);
  return { text: text.trim(), clauses };
}

/** Parses "3.11.7" (ignoring any suffix such as "3.13.0rc1" → 3.13.0). */
export function parseVersion(v: string): number[] {
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(v.trim());
  if (!m) throw new Error(`not a Python version: "${v}"`);
  return [m[1], m[2], m[3]].filter((x) => x !== undefined).map(Number);
}

function compare(a: number[], b: number[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function prefixEquals(actual: number[], wanted: number[]): boolean {
  return wanted.every((x, i) => actual[i] === x);
}

/** Whether a concrete version such as "3.11.7" satisfies the specifier. */
export function satisfies(version: string, spec: PythonSpec): boolean {
  const v = parseVersion(version);
  return spec.clauses.every(({ op, version: w }) => {
    switch (op) {
      case '==':
        return prefixEquals(v, w);
      case '!=':
        return !prefixEquals(v, w);
      case '>=':
        return compare(v, w) >= 0;
      case '<=':
        return compare(v, w) <= 0 || prefixEquals(v, w);
      case '>':
        return compare(v, w) > 0 && !prefixEquals(v, w);
      case '<':
        return compare(v, w) < 0;
      case '~=': {
        // ~=3.11 means >=3.11,==3.*; ~=3.11.2 means >=3.11.2,==3.11.*
        const prefix = w.slice(0, Math.max(1, w.length - 1));
        return compare(v, w) >= 0 && prefixEquals(v, prefix);
      }
      default:
        return false;
    }
  });
}
