/**
 * The plugin registry: immutable (name, version) rows holding source,
 * lockfile, manifest and the publisher's signature, if any. Publishing
 * identical content with the same signature again is a no-op; different
 * content, or the same content signed differently (or signed where it was
 * not), under an existing version is refused. The Sentinel stores signatures
 * without verifying them: workers do, against their own trusted keys.
 */
import type { Selectable } from 'kysely';
import { againOnUniqueRace } from '../db/dialect';
import type { Db } from '../db/open-database';
import type { PluginsTable } from '../db/schema';
import { artifactHash, envHashOfLockfile } from '../../common/signing/artifact-hash';
import type { PluginContracts } from './contracts';
import type { SinkRoute } from '../sinks/routes';
import { canonicalManifest, type PluginManifestData } from './manifest';

export type PluginRow = Selectable<PluginsTable>;

/** A publisher's signature as stored: base64 of the 64 signature bytes, and the key id. */
export interface StoredSignature {
  signature: string;
  keyId: string;
}

export type PublishResult = { kind: 'created' | 'unchanged'; plugin: PluginRow } | { kind: 'conflict'; plugin: PluginRow };

export async function publishPlugin(
  db: Db,
  p: { name: string; version: string; source: string; lockfile: string; manifest: PluginManifestData; contracts?: PluginContracts; signed?: StoredSignature; sinks?: SinkRoute[] },
  now: number,
): Promise<PublishResult> {
  const manifestJson = canonicalManifest(p.manifest);
  const artifact = artifactHash(p.source, p.lockfile, manifestJson);
  // A concurrent publish of the same version (another replica) is read by the second run.
  return againOnUniqueRace(() =>
    db.transaction().execute(async (trx) => {
      const existing = await trx
        .selectFrom('plugins')
        .selectAll()
        .where('name', '=', p.name)
        .where('version', '=', p.version)
        .executeTakeFirst();
      if (existing) {
        const same =
          existing.artifact_hash === artifact &&
          existing.signature === (p.signed?.signature ?? null) &&
          existing.signing_key_id === (p.signed?.keyId ?? null) &&
          existing.sinks_json === (p.sinks?.length ? JSON.stringify(p.sinks) : null);
        return { kind: same ? 'unchanged' : 'conflict', plugin: existing } as const;
      }
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
          signature: p.signed?.signature ?? null,
          signing_key_id: p.signed?.keyId ?? null,
          created_at: now,
          contracts_json: p.contracts ? JSON.stringify(p.contracts) : null,
          sinks_json: p.sinks?.length ? JSON.stringify(p.sinks) : null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return { kind: 'created', plugin } as const;
    }),
  );
}

/** A version of a plugin; empty version means the latest published one. */
export async function findPlugin(db: Db, name: string, version?: string): Promise<PluginRow | undefined> {
  let q = db.selectFrom('plugins').selectAll().where('name', '=', name);
  if (version) q = q.where('version', '=', version);
  return q.orderBy('seq', 'desc').limit(1).executeTakeFirst();
}

/** The sink routes stored with a plugin version. */
export function sinksOf(p: Pick<PluginRow, 'sinks_json'>): SinkRoute[] {
  return p.sinks_json ? (JSON.parse(p.sinks_json) as SinkRoute[]) : [];
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
