/**
 * The plugin registry: immutable (name, version) rows holding source,
 * lockfile and manifest. Publishing identical content again is a no-op;
 * different content under an existing version is refused.
 */
import type { Selectable } from 'kysely';
import type { Db } from '../db/open-database';
import type { PluginsTable } from '../db/schema';
import { artifactHash, envHashOfLockfile } from './hashes';
import type { PluginContracts } from './contracts';
import { canonicalManifest, type PluginManifestData } from './manifest';

export type PluginRow = Selectable<PluginsTable>;

export type PublishResult = { kind: 'created' | 'unchanged'; plugin: PluginRow } | { kind: 'conflict'; plugin: PluginRow };

export async function publishPlugin(
  db: Db,
  p: { name: string; version: string; source: string; lockfile: string; manifest: PluginManifestData; contracts?: PluginContracts },
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
        contracts_json: p.contracts ? JSON.stringify(p.contracts) : null,
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

/** The contracts stored with a plugin version. */
export function contractsOf(p: Pick<PluginRow, 'contracts_json'>): PluginContracts | undefined {
  return p.contracts_json ? (JSON.parse(p.contracts_json) as PluginContracts) : undefined;
}

export async function listPlugins(db: Db, name?: string): Promise<PluginRow[]> {
  let q = db.selectFrom('plugins').selectAll();
  if (name) q = q.where('name', '=', name);
  return q.orderBy('seq', 'desc').execute();
}
