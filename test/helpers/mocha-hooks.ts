/**
 * Root hooks for the whole mocha run. One CASPARIAN_HOME is created per run
 * (so environments built by tests are shared across test files) and removed
 * at the end unless CASPARIAN_KEEP_TEST_HOME is set. The run's PostgreSQL
 * (pg-server), if a test started one, is stopped at the end too.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stopTestPg } from './pg-server';

if (!process.env.CASPARIAN_TEST_HOME) {
  process.env.CASPARIAN_TEST_HOME = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-test-home-'));
}

export const mochaHooks = {
  async afterAll(): Promise<void> {
    try {
      await stopTestPg();
    } finally {
      const home = process.env.CASPARIAN_TEST_HOME;
      if (home && !process.env.CASPARIAN_KEEP_TEST_HOME && path.basename(home).startsWith('casparian-test-home-')) {
        fs.rmSync(home, { recursive: true, force: true });
      }
    }
  },
};
