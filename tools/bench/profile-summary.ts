/**
 * `node dist/tools/bench/profile-summary.js FILE.cpuprofile [N]`: where a
 * service's CPU went, from a `npm run bench -- --cpu-prof` profile. Prints
 * self time by area (a node_modules package, a directory of this repo,
 * node's internals, GC, idle) and the top N functions by self time.
 */
import * as fs from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The area a script URL belongs to: "node_modules/@grpc/grpc-js", "services/sentinel/queue", "node:internal", … */
export function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return `npm:${nm[1]}`;
  if (url.startsWith('node:')) return 'node:internal';
  const own = /\/dist\/((?:services|tools)\/(?:[^/]+\/)?[^/]+)\//.exec(url) ?? /\/dist\/((?:services|tools)\/[^/]+)$/.exec(url);
  if (own) return own[1];
  return url.replace(/^file:\/\//, '');
}

/** Self time in ms per key, largest first. */
export function selfTimes(p: Profile, key: (n: ProfileNode) => string): [string, number][] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const acc = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node) return;
    const k = key(node);
    acc.set(k, (acc.get(k) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  });
  return [...acc.entries()].sort((a, b) => b[1] - a[1]);
}

function main(file: string, top: number): void {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const total = p.timeDeltas.reduce((a, b) => a + b, 0) / 1000;
  const line = ([k, ms]: [string, number]): string => `${ms.toFixed(0).padStart(8)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${k}`;
  process.stdout.write(`${file}: ${(total / 1000).toFixed(1)} s sampled\n\nby area (self time)\n`);
  for (const e of selfTimes(p, (n) => areaOf(n.callFrame.url, n.callFrame.functionName)).slice(0, 20)) process.stdout.write(line(e) + '\n');
  process.stdout.write(`\ntop ${top} functions (self time)\n`);
  const fn = (n: ProfileNode): string => {
    const where = n.callFrame.url ? `${areaOf(n.callFrame.url, '')}:${n.callFrame.lineNumber + 1}` : '';
    return `${n.callFrame.functionName || '(anonymous)'} ${where}`.trim();
  };
  for (const e of selfTimes(p, fn).slice(0, top)) process.stdout.write(line(e) + '\n');
}

if (require.main === module) {
  const [file, n] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node dist/tools/bench/profile-summary.js FILE.cpuprofile [N]\n');
    process.exit(2);
  }
  main(file, Number(n ?? 25));
}
