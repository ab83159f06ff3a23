import { strict as assert } from 'node:assert';
import SQLite from 'better-sqlite3';
import { cachingStatements } from '../../../services/sentinel/db/statement-cache';

describe('unit: statement cache', () => {
  it('compiles each SQL text once, evicts the least recently used, and still sees schema changes', () => {
    const raw = new SQLite(':memory:');
    let compiled = 0;
    const counting = Object.assign(Object.create(raw) as SQLite.Database, {
      prepare: (sql: string) => {
        compiled++;
        return raw.prepare(sql);
      },
    });
    const db = cachingStatements(counting, 2);
    db.prepare('create table t (a integer)').run([]);
    const insert = db.prepare('insert into t (a) values (?)');
    assert.equal(db.prepare('insert into t (a) values (?)'), insert, 'same text, same statement');
    insert.run([1]);
    assert.equal(compiled, 2);
    db.prepare('select a from t').all([]); // evicts "create table" (least recently used)
    db.prepare('insert into t (a) values (?)').run([2]);
    assert.equal(compiled, 3);
    db.prepare('create table u (b integer)').run([]); // compiled again, evicts "select"
    assert.equal(compiled, 4);
    raw.exec('alter table t add column c text');
    assert.deepEqual(db.prepare('select a from t').all([]), [{ a: 1 }, { a: 2 }]);
    assert.deepEqual(db.prepare('insert into t (a) values (?)').run([3]).changes, 1, 'a cached statement survives a schema change');
    db.close();
  });
});
