/**
 * Soak: jobs through 3 worker processes while workers are killed with SIGKILL
 * at random and restarted. All jobs succeed, none is committed twice, sampled
 * outputs are right, and no process or temp dir is left behind.
 *
 * `npm test` runs the CI soak: 300 jobs. The release check is the same test
 * with 2,000 jobs (several minutes), run before a release:
 *
 *     npm run compile && CASPARIAN_SOAK_JOBS=2000 npx mocha dist/test/faults/soak.test.js
 */
import { strict as assert } from 'node:assert';
import { JobState, type Job } from '../../services/gen/casparian/v1/types';
import { checkValues, faultPlugin, warmUp, writeCsv } from '../helpers/data-fixtures';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { FINAL_STATES } from '../helpers/test-cluster';
import { sleep, waitFor } from '../helpers/wait';

/** Jobs of the CI soak (`npm test`) and of the release check (CASPARIAN_SOAK_JOBS=2000). */
const CI_JOBS = 300;
const RELEASE_JOBS = 2000;
const N = Number(process.env.CASPARIAN_SOAK_JOBS || CI_JOBS);
const WORKERS = ['w1', 'w2', 'w3'];
const KIND = N === CI_JOBS ? 'CI soak' : N >= RELEASE_JOBS ? 'release soak' : 'soak';

describe(`faults: ${KIND} of ${N} jobs with random worker kills (CASPARIAN_SOAK_JOBS=${RELEASE_JOBS} is the release check)`, function () {
  this.timeout(Math.max(600_000, N * 1_000));
  const clusters = useClusters();

  clusters.it(`${N} jobs through ${WORKERS.length} workers with random kill -9s: all succeed, none duplicated, nothing left behind`, async () => {
    const c = clusters.track(await ProcCluster.start({ workers: WORKERS, slots: 2, leaseMs: 3_000, heartbeatMs: 500, logLevel: 'warn' }));
    await c.publish('values', faultPlugin('values.py'));
    await warmUp(c);

    const t0 = Date.now();
    const jobs: { id: string; seed: number; rows: number }[] = [];
    const submitting = (async () => {
      for (let i = 0; i < N; i++) {
        const rows = 1 + (i % 5);
        // Generous attempts: a job may be hit by several of the kills.
        const job = await c.submit('values', writeCsv(c.inputDir, `soak-${i}.csv`, rows, i), { maxAttempts: 10 });
        jobs.push({ id: job.id, seed: i, rows });
      }
    })();

    let finished = false;
    let done = 0;
    const kills: string[] = [];
    let rng = 12345;
    const rand = () => ((rng = (rng * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    // The first kill lands while most jobs are still to be submitted (with warm
    // fork servers the whole CI soak takes a few seconds); the rest at random.
    const killer = (async () => {
      await waitFor('a tenth of the jobs to be submitted', () => jobs.length >= N / 10, 60_000, 20);
      for (let first = true; !finished; first = false) {
        if (!first) await sleep(500 + rand() * 1_500);
        if (finished || done >= N * 0.9) break;
        const name = WORKERS[Math.floor(rand() * WORKERS.length)];
        await c.worker(name).kill9();
        kills.push(`${name}@${((Date.now() - t0) / 1000).toFixed(1)}s`);
        await c.startWorker(name);
      }
    })();

    let finals: Job[];
    try {
      await submitting;
      finals = await waitFor(
        'every job to finish',
        async () => {
          const all = (await c.listJobs('values')).filter((j) => j.inputPath.includes('soak-'));
          done = all.filter((j) => FINAL_STATES.includes(j.state)).length;
          return all.length === N && done === N ? all : undefined;
        },
        Math.max(300_000, N * 800),
        500,
      );
    } finally {
      finished = true;
      await killer;
    }
    const elapsed = (Date.now() - t0) / 1000;

    const notOk = finals.filter((j) => j.state !== JobState.JOB_STATE_SUCCEEDED);
    assert.deepEqual(notOk.map((j) => [j.id, JobState[j.state], j.attempt, j.error?.code, j.error?.message]), [], 'every job succeeds');
    const byId = new Map(finals.map((j) => [j.id, j]));
    const dup = jobs
      .map((j) => ({ id: j.id, dirs: c.attemptDirs(j.id), attempt: byId.get(j.id)!.attempt }))
      .filter((x) => x.dirs.length !== 1 || x.dirs[0] !== `attempt-${x.attempt}`);
    assert.deepEqual(dup, [], 'exactly one committed attempt dir per job');
    const retried = jobs.filter((j) => byId.get(j.id)!.attempt > 1);
    for (const j of [...retried.slice(0, 15), ...jobs.filter((_, i) => i % Math.ceil(N / 15) === 0)]) {
      assert.equal(await checkValues(c, j.id, j.rows, j.seed), '');
    }

    // Graceful stop of what is left; then nothing of this cluster may remain.
    await c.stopGracefully();
    await waitFor('guest processes to be gone', () => c.guests().length === 0, 10_000).catch(() => undefined);
    const guests = c.guests();
    const staging = c.stagingDirs();
    const bridgeDirs = c.bridgeDirs();
    process.stderr.write(
      `      ${N} jobs in ${elapsed.toFixed(1)} s = ${(N / elapsed).toFixed(2)} jobs/s with ${kills.length} kills (${kills.join(', ')}); ` +
        `${retried.length} jobs retried; leftover: ${guests.length} guests, ${staging.length} staging dirs, ${bridgeDirs.length} bridge dirs\n`,
    );
    assert.deepEqual(guests, [], 'no guest process survives');
    assert.ok(kills.length > 0, 'at least one worker was killed');
    assert.deepEqual(staging, [], 'no staging dir is left');
    assert.deepEqual(bridgeDirs, [], 'no bridge private dir (casparian-bridge-*) is left in the workers\' TMPDIR');
  });
});
