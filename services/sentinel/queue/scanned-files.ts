import type { Selectable } from 'kysely';
import type { Db } from '../db/open-database';
import type { ScannedFilesTable } from '../db/schema';

export type ScannedFileRow = Selectable<ScannedFilesTable>;

/**
 * The recorded identities of `paths` for one plugin, by path (paths never
 * scanned are absent). At most a few hundred paths per call: one statement.
 */
export async function readScannedFiles(db: Db, pluginName: string, paths: readonly string[]): Promise<Map<string, ScannedFileRow>> {
  if (paths.length === 0) return new Map();
  const rows = await db.selectFrom('scanned_files').selectAll().where('plugin_name', '=', pluginName).where('path', 'in', paths).execute();
  return new Map(rows.map((r) => [r.path, r]));
}
