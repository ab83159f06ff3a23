/**
 * Sink routes: where a plugin version's outputs are delivered besides the
 * Sentinel's own store (which FetchOutput and the query views read). Set at
 * publish (`casparian publish --sink rows=sqlite:out.db`), stored with the
 * version, delivered after each commit by delivery.ts.
 *
 *   OUTPUT=KIND:TARGET[?mode=append|replace|error]
 *
 * KIND is `parquet` (a Hive-style dataset directory: TARGET/{output}/part-{job}.parquet),
 * `arrow` (the same layout with Arrow IPC stream files, part-{job}.arrows)
 * or `sqlite` (table {output} in the SQLite file TARGET). A relative TARGET
 * is inside the data dir's `sinks/`; an absolute one must lie in one of the
 * Sentinel's --sink-root directories, so that a client cannot make the
 * Sentinel write anywhere else on its host.
 */
import * as path from 'node:path';
import { isInside } from '../../common/paths';

export const SINK_KINDS = ['parquet', 'arrow', 'sqlite'] as const;
export type SinkKind = (typeof SINK_KINDS)[number];
export const SINK_MODES = ['append', 'replace', 'error'] as const;
export type SinkMode = (typeof SINK_MODES)[number];

export interface SinkRoute {
  /** An output name, or "*" for every output of the version (quarantine outputs included). */
  output: string;
  kind: SinkKind;
  /** As published (relative to the sinks dir, or absolute). */
  target: string;
  mode: SinkMode;
}

/** A route that cannot be used; INVALID_ARGUMENT at publish. */
export class SinkRouteError extends Error {}

/** `OUTPUT=KIND:TARGET[?mode=M]` as a route (checked by checkRoutes). */
export function parseSinkSpec(text: string): SinkRoute {
  const eq = text.indexOf('=');
  const colon = text.indexOf(':', eq + 1);
  if (eq <= 0 || colon < 0) throw new SinkRouteError(`--sink ${JSON.stringify(text)}: expected OUTPUT=KIND:TARGET[?mode=append|replace|error], e.g. rows=sqlite:out.db`);
  const rest = text.slice(colon + 1);
  const q = rest.lastIndexOf('?mode=');
  return {
    output: text.slice(0, eq),
    kind: text.slice(eq + 1, colon) as SinkKind,
    target: q >= 0 ? rest.slice(0, q) : rest,
    mode: (q >= 0 ? rest.slice(q + '?mode='.length) : 'append') as SinkMode,
  };
}

/** Checks routes as published; throws SinkRouteError naming the first problem. */
export function checkRoutes(routes: SinkRoute[], sinkRoots: readonly string[]): SinkRoute[] {
  const seen = new Set<string>();
  for (const r of routes) {
    const where = `sink ${r.output}=${r.kind}:${r.target}`;
    if (r.output !== '*' && !/^[a-z][a-z0-9_]*$/.test(r.output)) throw new SinkRouteError(`${where}: the output must be an output name ([a-z][a-z0-9_]*) or *`);
    if (!(SINK_KINDS as readonly string[]).includes(r.kind)) throw new SinkRouteError(`${where}: kind must be ${SINK_KINDS.join(', ')}`);
    if (!(SINK_MODES as readonly string[]).includes(r.mode)) throw new SinkRouteError(`${where}: mode must be ${SINK_MODES.join(', ')}`);
    if (!r.target || r.target.includes('\0')) throw new SinkRouteError(`${where}: the target is empty`);
    if (path.isAbsolute(r.target)) {
      if (!sinkRoots.some((root) => isInside(path.resolve(root), path.resolve(r.target)))) {
        throw new SinkRouteError(`${where}: an absolute target must lie in one of the Sentinel's --sink-root directories (${sinkRoots.join(', ') || 'none set'}); a relative one goes under its data dir's sinks/`);
      }
    } else if (path.normalize(r.target).split(path.sep)[0] === '..') {
      throw new SinkRouteError(`${where}: a relative target may not leave the sinks directory`);
    }
    const key = `${r.output}\0${r.kind}\0${r.target}`;
    if (seen.has(key)) throw new SinkRouteError(`${where}: listed twice`);
    seen.add(key);
  }
  return routes.map((r) => ({ ...r }));
}

/** Where a route's target is on this host. */
export function resolveTarget(r: Pick<SinkRoute, 'target'>, dataDir: string): string {
  return path.isAbsolute(r.target) ? path.resolve(r.target) : path.resolve(dataDir, 'sinks', r.target);
}

/** The routes that take output `name`. */
export function routesFor(routes: readonly SinkRoute[], name: string): SinkRoute[] {
  return routes.filter((r) => r.output === name || r.output === '*');
}
