/**
 * The tests' PostgreSQL (test/helpers/pg-server): databases of their own,
 * a restart that cuts open connections, a private directory owned by the
 * user that runs the server, and no server left after the test process ends,
 * cleanly, by a crash, or by kill -9.
 *
 * CASPARIAN_TEST_PG_BINARIES=npm runs the same tests on the npm package's
 * binaries; CASPARIAN_TEST_PG_URL on an external server (which cannot be
 * restarted, so the restart and directory tests check that it says so).
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Client } from 'pg';
import { sweepPgLeftovers } from '../helpers/pg-leftovers';
import { stopTestPg, testPg } from '../helpers/pg-server';

const PG_SERVER_JS = path.join(__dirname, '..', 'helpers', 'pg-server.js');

/** A connected client with an 'error' listener (a restart makes it emit one). */
async function connect(url: string): Promise<{ client: Client; errors: Error[] }> {
  const client = new Client({ connectionString: url });
  const errors: Error[] = [];
  client.on('error', (e) => errors.push(e));
  await client.connect();
  return { client, errors };
}

async function scalar<T>(url: string, sql: string): Promise<T> {
  const { client } = await connect(url);
  try {
    return Object.values((await client.query(sql)).rows[0])[0] as T;
  } finally {
    await client.end();
  }
}

/** Whether anything listens on the loopback port (a server that lost its data dir still does). */
function listens(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Runs a node process that starts a server with the helper, prints its
 * directory and port, then ends as `how` says; returns what it printed once
 * it has exited.
 */
async function childServer(how: 'exit' | 'crash' | 'kill9'): Promise<{ baseDir: string; port: number }> {
  const ending = {
    exit: 'process.exit(0)',
    crash: "throw new Error('crash on purpose')",
    kill9: 'setInterval(() => {}, 1000)',
  }[how];
  const script = `require(${JSON.stringify(PG_SERVER_JS)}).testPg().then((pg) => {
    console.log(JSON.stringify({ baseDir: pg.baseDir, port: pg.port }));
    ${ending};
  });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    if (how === 'kill9' && out.includes('\n')) child.kill('SIGKILL');
  });
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const line = out.split('\n')[0];
  assert.ok(line.startsWith('{'), `the child printed no server (exit ${code}): ${err}`);
  return JSON.parse(line) as { baseDir: string; port: number };
}

describe('integration: test PostgreSQL helper', function () {
  this.timeout(60_000);

  it('gives each caller an empty database of its own, with collation C', async () => {
    const pg = await testPg();
    if (process.env.CASPARIAN_TEST_PG_BINARIES === 'npm') assert.equal(pg.source, 'npm');
    const [a, b] = [await pg.createDatabase('a'), await pg.createDatabase('b')];
    assert.notEqual(a, b);
    const nameA = new URL(a).pathname.slice(1);
    const nameB = new URL(b).pathname.slice(1);
    assert.equal(a, pg.url(nameA));
    assert.match(a, new RegExp(`^postgres://[^/]*@${pg.host}:${pg.port}/a_`));
    assert.equal(await scalar(a, 'select current_database()'), nameA);
    assert.equal(await scalar(b, 'select current_database()'), nameB);
    assert.equal(await scalar(a, "select datcollate from pg_database where datname = current_database()"), 'C');

    const { client } = await connect(a);
    await client.query('create table t (v text)');
    await client.query("insert into t values ('B'), ('a'), ('_')");
    // Byte order, as SQLite sorts: upper case before '_' before lower case.
    assert.deepEqual((await client.query('select v from t order by v')).rows.map((r) => r.v), ['B', '_', 'a']);
    await client.end();
    assert.equal(await scalar(b, "select count(*)::int from information_schema.tables where table_schema = 'public'"), 0);

    await pg.dropDatabase(nameB);
    await assert.rejects(scalar(b, 'select 1'), /does not exist/);
    await pg.dropDatabase(nameB); // not there: no error
  });

  it('restart cuts open connections; the server comes back on the same port with its data', async () => {
    const pg = await testPg();
    if (!pg.canRestart) {
      await assert.rejects(pg.restart(), /cannot stop the external server/);
      return;
    }
    const url = await pg.createDatabase('restart');
    const port = pg.port;
    const open = await connect(url);
    await open.client.query('create table kept (v int); insert into kept values (7)');

    await pg.restart();

    assert.equal(pg.port, port);
    await assert.rejects(open.client.query('select 1'));
    assert.ok(open.errors.length > 0, 'the client open across the restart emitted no error');
    assert.equal(await scalar(url, 'select v from kept'), 7);
    await open.client.end().catch(() => {});

    await pg.stop();
    assert.equal(await listens(pg.port), false, 'the server still listens after stop()');
    await pg.stop(); // stopped already: no-op
    await pg.start();
    assert.equal(await scalar(url, 'select v from kept'), 7);
  });

  it('keeps data, socket and log in a 0700 directory of the user that runs the server', async () => {
    const pg = await testPg();
    if (!pg.canRestart) {
      assert.equal(pg.baseDir, undefined);
      return;
    }
    const st = fs.statSync(pg.baseDir!);
    assert.equal(st.mode & 0o777, 0o700);
    if (process.getuid!() === 0) {
      const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
      assert.equal(st.uid, uid, 'running as root, the directory must belong to postgres');
      assert.equal(fs.statSync(path.join(pg.baseDir!, 'data')).uid, uid);
    } else {
      assert.equal(st.uid, process.getuid!());
    }
    assert.ok(fs.readdirSync(pg.baseDir!).some((n) => n.startsWith('.s.PGSQL.')), 'no Unix socket in the directory');
    assert.ok(fs.existsSync(path.join(pg.baseDir!, 'server.log')));
  });

  it('leaves no server behind: at the end of the run, on exit, on a crash, and after kill -9 (next run)', async () => {
    const pg = await testPg();
    if (!pg.canRestart) {
      assert.equal(pg.baseDir, undefined);
      return;
    }
    const dir = pg.baseDir!;
    await stopTestPg();
    assert.equal(fs.existsSync(dir), false);
    assert.equal(await listens(pg.port), false);

    for (const how of ['exit', 'crash'] as const) {
      const child = await childServer(how);
      assert.equal(fs.existsSync(child.baseDir), false, `${how}: the directory is still there`);
      assert.equal(await listens(child.port), false, `${how}: the server still runs`);
    }

    const killed = await childServer('kill9');
    assert.equal(await listens(killed.port), true, 'kill -9 of the test process stopped its server (nothing to sweep)');
    await sweepPgLeftovers();
    assert.equal(fs.existsSync(killed.baseDir), false);
    assert.equal(await listens(killed.port), false, 'kill -9: the server still runs after the sweep');

    // The next call starts a new server.
    const again = await testPg();
    assert.notEqual(again.baseDir, dir);
    assert.equal(await scalar(await again.createDatabase(), 'select 1'), 1);
  });
});
