/**
 * The grpcurl command lines of a Markdown file, parsed the way grpcurl reads
 * its arguments: backslash continuations joined, a trailing `# comment`
 * dropped, shell quoting undone, then grpcurl's flags (-plaintext, -d, -H,
 * -cacert, -cert, -key), the target and the verb: `list [SERVICE]`,
 * `describe SYMBOL`, or a method `pkg.Service/Method`.
 */

export interface GrpcurlLine {
  /** 1-based line number in the file where the command starts. */
  line: number;
  /** The command as written (continuations joined). */
  text: string;
  plaintext: boolean;
  /** -d: the request JSON, as written (undefined: none, grpcurl sends an empty message). */
  data?: string;
  /** -H 'name: value' headers, shell variables left as written ($NAME). */
  headers: [string, string][];
  cacert?: string;
  cert?: string;
  key?: string;
  target: string;
  verb: { kind: 'list'; service?: string } | { kind: 'describe'; symbol: string } | { kind: 'call'; service: string; method: string };
}

/** Split a shell command into words: '…' literal, "…" and bare words as written (variables kept). */
export function shellWords(cmd: string): string[] {
  const words: string[] = [];
  let cur: string | undefined;
  for (let i = 0; i < cmd.length; i++) {
    const ch = cmd[i];
    if (ch === "'" || ch === '"') {
      const end = cmd.indexOf(ch, i + 1);
      if (end < 0) throw new Error(`unbalanced ${ch} in: ${cmd}`);
      cur = (cur ?? '') + cmd.slice(i + 1, end);
      i = end;
    } else if (/\s/.test(ch)) {
      if (cur !== undefined) words.push(cur);
      cur = undefined;
    } else if (ch === '#' && cur === undefined) {
      break; // a comment
    } else {
      cur = (cur ?? '') + ch;
    }
  }
  if (cur !== undefined) words.push(cur);
  return words;
}

const VALUE_FLAGS = new Set(['-d', '-H', '-cacert', '-cert', '-key']);

export function parseGrpcurl(text: string, line: number): GrpcurlLine {
  const words = shellWords(text);
  if (words[0] !== 'grpcurl') throw new Error(`line ${line}: not a grpcurl command: ${text}`);
  const out: Omit<GrpcurlLine, 'target' | 'verb'> = { line, text, plaintext: false, headers: [] };
  const rest: string[] = [];
  for (let i = 1; i < words.length; i++) {
    const w = words[i];
    if (w === '-plaintext') out.plaintext = true;
    else if (VALUE_FLAGS.has(w)) {
      const v = words[++i];
      if (v === undefined) throw new Error(`line ${line}: ${w} without a value`);
      if (w === '-d') out.data = v;
      else if (w === '-H') {
        const colon = v.indexOf(':');
        if (colon < 1) throw new Error(`line ${line}: header without "name:": ${v}`);
        out.headers.push([v.slice(0, colon).trim().toLowerCase(), v.slice(colon + 1).trim()]);
      } else if (w === '-cacert') out.cacert = v;
      else if (w === '-cert') out.cert = v;
      else out.key = v;
    } else if (w.startsWith('-')) throw new Error(`line ${line}: a grpcurl flag this test does not know: ${w}`);
    else rest.push(w);
  }
  const [target, verb, arg, ...extra] = rest;
  if (!target || !verb || extra.length) throw new Error(`line ${line}: expected TARGET VERB [ARG]: ${text}`);
  if (verb === 'list') return { ...out, target, verb: { kind: 'list', service: arg } };
  if (verb === 'describe') {
    if (!arg) throw new Error(`line ${line}: describe without a symbol`);
    return { ...out, target, verb: { kind: 'describe', symbol: arg } };
  }
  const m = /^([\w.]+)\/(\w+)$/.exec(verb);
  if (!m || arg !== undefined) throw new Error(`line ${line}: expected a method SERVICE/METHOD: ${verb}`);
  return { ...out, target, verb: { kind: 'call', service: m[1], method: m[2] } };
}

/** Every grpcurl command in the code blocks of a Markdown text (lines starting with `grpcurl`, continuations joined). */
export function grpcurlLines(markdown: string): GrpcurlLine[] {
  const lines = markdown.split('\n');
  const found: GrpcurlLine[] = [];
  let inCode = false;
  for (let i = 0; i < lines.length; i++) {
    if (/^\s*```/.test(lines[i])) inCode = !inCode;
    if (!inCode || !/^\s*grpcurl\s/.test(lines[i])) continue;
    const start = i;
    let text = lines[i].trim();
    while (text.endsWith('\\') && i + 1 < lines.length) text = `${text.slice(0, -1).trimEnd()} ${lines[++i].trim()}`;
    found.push(parseGrpcurl(text, start + 1));
  }
  return found;
}
