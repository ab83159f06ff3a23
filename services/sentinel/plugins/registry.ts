/**
 * The plugin registry: immutable (name, version) rows holding source,
 * lockfile and manifest. Publishing identical content again is a no-op;
 * different content under an existing version is refused.
 */
import type { Selectable } from 'kysely';
import type { Db } from '../db/open-database';
import type { PluginsTable } from '../db/schema';
import { artifactHash, envHashOfLockfile } from './hashes';

export type PluginRow = Selectable<PluginsTable>;

export interface PluginManifestData {
  description: string;
  envAllow: string[];
  timeouts: { guestConnectMs: number; idleMs: number; startToCloseMs: number; killGraceMs: number; scheduleToStartMs: number };
  maxAttempts: number;
  /** setrlimit caps for the plugin process; 0 = none. */
  limits: { memoryMb: number; cpuSeconds: number; openFiles: number };
  /** Retry backoff overrides for the plugin's jobs; 0 = inherit the Sentinel's. */
  backoff: { initialMs: number; multiplier: number; maxMs: number };
}

export const INHERIT_BACKOFF = Object.freeze({ initialMs: 0, multiplier: 0, maxMs: 0 });

/** The non-zero fields of a backoff override, as stored on a job. */
export function backoffOverrides(b: { initialMs: number; multiplier: number; maxMs: number }): Partial<{ initialMs: number; multiplier: number; maxMs: number }> {
  return Object.fromEntries(Object.entries(b).filter(([, v]) => v > 0));
}

export const NO_LIMITS = Object.freeze({ memoryMb: 0, cpuSeconds: 0, openFiles: 0 });

export type PublishResult = { kind: 'created' | 'unchanged'; plugin: PluginRow } | { kind: 'conflict'; plugin: PluginRow };

/** Canonical JSON of a manifest (fixed key order), the form that is hashed and stored. */
export function canonicalManifest(m: PluginManifestData): string {
  return JSON.stringify({
    description: m.description,
    envAllow: [...m.envAllow],
    timeouts: {
      guestConnectMs: m.timeouts.guestConnectMs,
      idleMs: m.timeouts.idleMs,
      startToCloseMs: m.timeouts.startToCloseMs,
      killGraceMs: m.timeouts.killGraceMs,
      scheduleToStartMs: m.timeouts.scheduleToStartMs,
    },
    maxAttempts: m.maxAttempts,
    limits: { memoryMb: m.limits.memoryMb, cpuSeconds: m.limits.cpuSeconds, openFiles: m.limits.openFiles },
    // Only when set, so manifests without a backoff keep their artifact hash.
    ...(Object.keys(backoffOverrides(m.backoff)).length
      ? { backoff: { initialMs: m.backoff.initialMs, multiplier: m.backoff.multiplier, maxMs: m.backoff.maxMs } }
      : {}),
  });
}

export function parseManifest(row: PluginRow): PluginManifestData {
  const m = JSON.parse(row.manifest_json) as PluginManifestData;
  return { ...m, limits: m.limits ?? { ...NO_LIMITS }, backoff: m.backoff ?? { ...INHERIT_BACKOFF }, timeouts: { ...m.timeouts, scheduleToStartMs: m.timeouts.scheduleToStartMs ?? 0 } };
}

export async function publishPlugin(
  db: Db,
  p: { name: string; version: string; source: string; lockfile: string; manifest: PluginManifestData },
  now: number,
): Promise<PublishResult> {
  const manifestJson = canonicalManifest(p.manifest);
  const artifact = artifactHash(p.source, p.lockfile, manifestJson);
  return db.transaction().execute(async (trx) => {
    const existing = await trx
      .selectFrom('plugins')
      .selectAll()
      .where('name', '=', p.name)
      .where('version', '=', p.version)
      .executeTakeFirst();
    if (existing) return { kind: existing.artifact_hash === artifact ? 'unchanged' : 'conflict', plugin: existing } as const;
    const plugin = await trx
      .insertInto('plugins')
      .values({
        name: p.name,
        version: p.version,
        source: p.source,
        lockfile: p.lockfile,
        manifest_json: manifestJson,
        env_hash: envHashOfLockfile(p.lockfile),
        artifact_hash: artifact,
        created_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { kind: 'created', plugin } as const;
  });
}

/** A version of a plugin; empty version means the latest published one. */
export async function findPlugin(db: Db, name: string, version?: string): Promise<PluginRow | undefined> {
  let q = db.selectFrom('plugins').selectAll().where('name', '=', name);
  if (version) q = q.where('version', '=', version);
  return q.orderBy('seq', 'desc').limit(1).executeTakeFirst();
}

export async function listPlugins(db: Db, name?: string): Promise<PluginRow[]> {
  let q = db.selectFrom('plugins').selectAll();
  if (name) q = q.where('name', '=', name);
  return q.orderBy('seq', 'desc').execute();
}
