/**
 * better-sqlite3 compiles a statement on every prepare(); kysely prepares
 * every query it runs. The queue runs the same few dozen SQL texts over and
 * over, so the database handed to kysely keeps compiled statements by SQL
 * text (a bounded LRU). Safe because kysely runs one query at a time per
 * connection and the Sentinel never streams (iterate()) a cached statement
 * while another query runs.
 */
import type { Database as SqliteDb, Statement } from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';

export function cachingStatements(db: SqliteDb, maxStatements = 500): SqliteDatabase {
  const cache = new Map<string, Statement>();
  return {
    prepare(sql: string): Statement {
      let stmt = cache.get(sql);
      if (stmt) {
        cache.delete(sql); // re-insert: the Map's order is the LRU order
      } else {
        stmt = db.prepare(sql);
        if (cache.size >= maxStatements) cache.delete(cache.keys().next().value as string);
      }
      cache.set(sql, stmt);
      return stmt;
    },
    close(): void {
      cache.clear();
      db.close();
    },
  };
}
