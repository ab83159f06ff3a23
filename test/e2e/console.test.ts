/**
 * The web console in a real headless Chromium against a real Sentinel (with
 * its HTTP/JSON API on) and a real worker running Python plugins. Each test
 * drives the pages as a user would and checks what they show against the
 * Sentinel's own answers: a job submitted while the jobs page is open changes
 * state there without a reload and its page shows outputs, schema and rows
 * read back by Query; a failed job's traceback; cancel, retry, pause/resume
 * and replaying the dead letter through the in-page confirmations; every other
 * page with real data. Screenshots land in test-output/console/.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { hashToken, newToken } from '../../services/common/auth/tokens';
import { JobState } from '../../services/gen/casparian/v1/types';
import { launchChromium } from '../helpers/browser';
import { faultPlugin, warmUp, writeCsv } from '../helpers/data-fixtures';
import { httpJson } from '../helpers/json-calls';
import { freePort } from '../helpers/managed-proc';
import { ProcCluster } from '../helpers/proc-cluster';
import { REPO_ROOT } from '../helpers/python-env';

const SHOTS = path.join(REPO_ROOT, 'test-output', 'console');
const CHECKS = fs.readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'plugins', 'console', 'checks.py'), 'utf8');
/** How long the page gets to show what the Sentinel already says. */
const UI_MS = 15_000;

describe('e2e: web console in headless Chromium (real Sentinel over HTTP, real worker)', function () {
  this.timeout(600_000); // the first provision of the shared pyarrow env in a run; the tests themselves take seconds
  let c: ProcCluster;
  let base: string;
  let browser: Browser;
  let page: Page;
  let pageErrors: string[] = [];

  async function api<T>(method: string, body: Record<string, unknown>): Promise<T> {
    const out = await httpJson(base, method, body as never);
    if (!('ok' in out)) throw new Error(`${method}: ${JSON.stringify(out)}`);
    return out.ok as T;
  }

  async function shot(name: string): Promise<void> {
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  }

  /** Confirm the open in-page dialog (after filling its reason, if given). */
  async function confirmDialog(reason?: string): Promise<void> {
    const dialog = page.getByRole('dialog');
    await dialog.waitFor({ timeout: UI_MS });
    if (reason !== undefined) await dialog.locator('input[name=reason]').fill(reason);
    await dialog.locator('[data-confirm]').click();
    await dialog.waitFor({ state: 'detached', timeout: UI_MS });
  }

  before(async function () {
    fs.rmSync(SHOTS, { recursive: true, force: true }); // only this run's screenshots
    fs.mkdirSync(SHOTS, { recursive: true });
    const httpPort = await freePort();
    c = await ProcCluster.start({ workers: ['w1'], slots: 3, sentinelEnv: { CASPARIAN_HTTP_PORT: String(httpPort) } });
    base = `http://127.0.0.1:${httpPort}`;
    await c.publish('values', faultPlugin('values.py'), { description: 'id,value lines to a table' });
    await c.publish('checks', CHECKS, { maxAttempts: 1 });
    await c.publish('held', faultPlugin('values.py'));
    await warmUp(c);
    browser = await launchChromium();
  });

  beforeEach(async () => {
    pageErrors = [];
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(String(e)));
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      await page.screenshot({ path: path.join(SHOTS, `failed-${this.currentTest.title.slice(0, 40).replace(/\W+/g, '-')}.png`), fullPage: true }).catch(() => undefined);
      process.stderr.write(`\npage errors: ${JSON.stringify(pageErrors)}\n${c.dumpLogs()}\n`);
    }
    await page?.close();
    if (this.currentTest?.state !== 'failed')
      assert.deepEqual(pageErrors, [], 'the page threw');
  });

  after(async () => {
    await browser?.close();
    await c?.stop();
  });

  it('shows a job submitted while the jobs page is open change state live, then its outputs, schema and first rows', async () => {
    await page.goto(`${base}/#/jobs`);
    await page.locator('[data-live=live]').waitFor({ timeout: UI_MS });
    await page.evaluate(() => ((globalThis as unknown as { notReloaded: boolean }).notReloaded = true));
    const input = writeCsv(c.inputDir, 'live.csv', 5, 7, ['# sleep=2']);
    const { job } = await api<{ job: { id: string } }>('SubmitJob', { pluginName: 'values', inputPath: input });
    const row = page.locator(`tr[data-job-id="${job.id}"]`);
    // The row appears without a reload while the job is not yet final, then turns SUCCEEDED.
    await page.locator(`tr[data-job-id="${job.id}"]:is([data-state=QUEUED],[data-state=DISPATCHED],[data-state=RUNNING])`).waitFor({ timeout: UI_MS });
    await shot('jobs-live-running');
    await page.locator(`tr[data-job-id="${job.id}"][data-state=SUCCEEDED]`).waitFor({ timeout: 60_000 });
    assert.equal(await page.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded), true, 'the page was reloaded');
    await shot('jobs');

    await row.getByRole('link', { name: job.id }).click();
    // values.py returns one table: the output named `default`.
    const output = page.locator('section[data-output=default]');
    await output.waitFor({ timeout: UI_MS });
    const schema = await output.getByRole('table', { name: 'Schema of default' }).locator('tbody tr').allInnerTexts();
    for (const col of ['id\tInt64', 'value\tFloat64', 'doubled\tFloat64', '_cf_job_id\t']) assert.ok(schema.some((r) => r.startsWith(col)), `schema lacks ${col}: ${JSON.stringify(schema)}`);
    const preview = output.getByRole('table', { name: 'Preview of default' });
    await preview.waitFor({ timeout: UI_MS });
    const rows = await preview.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    const header = await preview.locator('thead th').evaluateAll((ths) => ths.map((th) => th.firstChild?.textContent));
    assert.equal(rows.length, 5);
    const at = (name: string): number => header.indexOf(name);
    // writeCsv(…, 5, seed 7): id 7000+k, value 7+k/2, doubled twice that; every row is this job's.
    rows.forEach((r, k) => {
      assert.deepEqual([r[at('id')], r[at('value')], r[at('doubled')], r[at('_cf_job_id')]], [String(7000 + k), String(7 + k * 0.5), String((7 + k * 0.5) * 2), job.id]);
    });
    assert.match(await page.getByRole('list', { name: 'Timeline' }).innerText(), /Submitted[\s\S]*Last attempt started[\s\S]*Final: SUCCEEDED/);
    await shot('job-succeeded');
  });

  it('follows a batch\'s progress by state while its jobs run', async () => {
    const paths = [0, 1, 2].map((k) => writeCsv(c.inputDir, `batch-${k}.csv`, 2, 20 + k, ['# sleep=2']));
    const { batchId } = await api<{ batchId: string }>('SubmitJobs', { pluginName: 'values', inputPaths: paths });
    await page.goto(`${base}/#/jobs?batch=${batchId}`);
    const progress = page.getByRole('region', { name: 'Batch progress' });
    await progress.and(page.locator('[data-total="3"]:not([data-done="3"])')).waitFor({ timeout: UI_MS });
    await shot('jobs-batch-running');
    await progress.and(page.locator('[data-done="3"]')).waitFor({ timeout: 60_000 });
    assert.match(await progress.innerText(), /3 of 3 final[\s\S]*succeeded: 3/);
    assert.equal(await page.locator('tr[data-job-id][data-state=SUCCEEDED]').count(), 3);
    await page.locator('[data-live=ended]').waitFor({ timeout: UI_MS }); // a batch watch ends once every job is final
    await shot('jobs-batch');
  });

  it('shows a failed job\'s error and traceback, and retries it from the console', async () => {
    const input = c.input('explode.csv', '1,1.5\nexplode\n');
    const job = await c.waitJob((await c.submit('checks', input)).id);
    assert.equal(job.state, JobState.JOB_STATE_FAILED, JSON.stringify(job.error));
    await page.goto(`${base}/#/jobs/${job.id}`);
    const tb = page.locator('pre.traceback');
    await tb.waitFor({ timeout: UI_MS });
    const text = await tb.innerText();
    assert.match(text, /Traceback[\s\S]*in parse[\s\S]*in _value[\s\S]*ValueError: line 'explode' has no value column/);
    assert.match(await page.locator('section[aria-label=Error]').innerText(), /PERMANENT/);
    await shot('job-failed');

    await page.getByRole('button', { name: 'Retry job' }).click();
    await confirmDialog();
    // The retry runs attempt 2, which fails the same way; the page follows it.
    await page.getByRole('table', { name: 'Attempts' }).getByText('2 of 2 (current)').waitFor({ timeout: 60_000 });
    await page.locator('h2 [data-state=FAILED]').waitFor({ timeout: 60_000 });
    const after = await c.getJob(job.id);
    assert.equal(after.state, JobState.JOB_STATE_FAILED);
    assert.equal(after.attempt, 2);
  });

  it('cancels a running job after confirmation, with the reason in its logs', async () => {
    const input = writeCsv(c.inputDir, 'long.csv', 3, 1, ['# sleep=60']);
    const { id } = await c.submit('values', input);
    await c.waitJob(id, 60_000, (j) => j.state === JobState.JOB_STATE_RUNNING);
    await page.goto(`${base}/#/jobs/${id}`);
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await shot('cancel-dialog');
    await confirmDialog('stopped from the console test');
    await page.locator('h2 [data-state=CANCELLED]').waitFor({ timeout: 30_000 });
    assert.equal((await c.getJob(id)).state, JobState.JOB_STATE_CANCELLED);
    await page.getByRole('region', { name: 'Logs' }).or(page.locator('pre.logs')).getByText(/stopped from the console test/).first().waitFor({ timeout: UI_MS });
    await shot('job-cancelled');
  });

  it('pauses a plugin from the plugins page with a reason, then resumes it, and its queued job then runs', async () => {
    await page.goto(`${base}/#/plugins`);
    const row = page.locator('tr[data-plugin="held@1.0.0"]');
    await row.and(page.locator('[data-paused=false]')).waitFor({ timeout: UI_MS });
    await row.getByRole('button', { name: 'Pause' }).click();
    await confirmDialog('held for the console test');
    await row.and(page.locator('[data-paused=true]')).waitFor({ timeout: UI_MS });
    assert.match(await row.locator('[data-breaker]').innerText(), /paused: .*held for the console test/);
    const plugin = (await api<{ plugins: { paused?: boolean; pausedReason?: string }[] }>('ListPlugins', { name: 'held' })).plugins[0];
    assert.equal(plugin.paused, true);
    assert.match(plugin.pausedReason ?? '', /held for the console test/);

    const { id } = await c.submit('held', writeCsv(c.inputDir, 'held.csv', 2, 3));
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal((await c.getJob(id)).state, JobState.JOB_STATE_QUEUED, 'a paused plugin\'s job ran');
    await shot('plugins-paused');
    await row.getByRole('button', { name: 'Resume' }).click();
    await confirmDialog();
    await row.and(page.locator('[data-paused=false]')).waitFor({ timeout: UI_MS });
    const done = await c.waitJob(id, 60_000);
    assert.equal(done.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(done.error));
    await shot('plugins');
  });

  it('replays the dead letter from the jobs page', async () => {
    const input = c.input('flaky.csv', '1,2.5\n');
    fs.writeFileSync(`${input}.broken`, '');
    const job = await c.waitJob((await c.submit('checks', input)).id);
    assert.equal(job.state, JobState.JOB_STATE_DEAD_LETTER, JSON.stringify(job.error));
    fs.rmSync(`${input}.broken`);
    await page.goto(`${base}/#/jobs?state=JOB_STATE_DEAD_LETTER`);
    await page.locator(`tr[data-job-id="${job.id}"][data-state=DEAD_LETTER]`).waitFor({ timeout: UI_MS });
    await page.getByRole('button', { name: 'Replay dead letter' }).click();
    await confirmDialog();
    await page.getByRole('status').getByText('replayed 1 dead-letter job').waitFor({ timeout: UI_MS });
    const done = await c.waitJob(job.id, 60_000);
    assert.equal(done.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(done.error));
    // It left the DEAD_LETTER filter's list live.
    await page.locator(`tr[data-job-id="${job.id}"]`).waitFor({ state: 'detached', timeout: UI_MS });
  });

  it('loads the workers, environments, query and throughput pages with the Sentinel\'s data', async () => {
    await page.goto(`${base}/#/workers`);
    const w = page.locator('tr[data-worker-id=w1]');
    await w.waitFor({ timeout: UI_MS });
    assert.match(await w.innerText(), /3 \(\d busy\)/);
    assert.equal(await w.locator('[data-health]').innerText(), 'healthy');
    await shot('workers');

    const envHash = ((await api<{ plugins: { name: string; envHash: string }[] }>('ListPlugins', { name: 'values' })).plugins[0]).envHash;
    await page.goto(`${base}/#/envs`);
    const env = page.locator(`tr[data-env-hash="${envHash}"]`);
    await env.first().waitFor({ timeout: UI_MS });
    assert.match(await env.first().innerText(), /values@1\.0\.0[\s\S]*w1/);
    await shot('environments');

    await page.goto(`${base}/#/query`);
    await page.locator('textarea[name=sql]').fill('SELECT count(*) AS n, sum(id) AS ids FROM "default" WHERE id >= 7000 AND id < 7005');
    await page.getByRole('button', { name: /Run/ }).click();
    const result = page.getByRole('table', { name: 'Query result' });
    await result.waitFor({ timeout: UI_MS });
    assert.deepEqual(await result.locator('tbody td').allInnerTexts(), ['5', String(7000 * 5 + 10)]);
    assert.match(await page.locator('.summary').innerText(), /^1 rows in \d+ ms/);
    await shot('query');
    await page.locator('textarea[name=sql]').fill('SELECT nope FROM "default"');
    await page.getByRole('button', { name: /Run/ }).click();
    const err = page.locator('[role=alert][data-code=invalid_argument]');
    await err.waitFor({ timeout: UI_MS });
    assert.match(await err.innerText(), /nope/);
    await shot('query-error');

    // Jobs the earlier tests finished: the chart's bars add up to what GetThroughput says.
    const { buckets } = await api<{ buckets: Record<string, number | string>[] }>('GetThroughput', { minutes: 60 });
    const finished = buckets.reduce((n, b) => n + ['succeeded', 'failed', 'cancelled', 'deadLetter'].reduce((m, k) => m + Number(b[k] ?? 0), 0), 0);
    assert.ok(finished >= 1, `GetThroughput counts ${finished} finished jobs (the warm-up job at least)`);
    await page.goto(`${base}/#/throughput`);
    const chart = page.getByRole('img', { name: 'Jobs finished per minute by outcome' });
    await chart.waitFor({ timeout: UI_MS });
    const drawn = await chart.locator('g[data-bucket]').evaluateAll((gs) => gs.reduce((n, g) => n + Number(g.getAttribute('data-total')), 0));
    assert.equal(drawn, finished);
    assert.ok((await chart.locator('rect.bar-succeeded').count()) > 0, 'no succeeded bar drawn');
    await shot('throughput');
  });

  it('asks for the client token when the Sentinel requires one, and sends it on calls and streams alike', async () => {
    const token = newToken();
    const tokensFile = path.join(c.root, 'console-tokens');
    fs.writeFileSync(tokensFile, `client ${hashToken(token)} console-test\n`);
    const httpPort = await freePort();
    const guarded = await ProcCluster.start({ clientToken: token, sentinelEnv: { CASPARIAN_HTTP_PORT: String(httpPort), CASPARIAN_TOKENS_FILE: tokensFile } });
    try {
      await guarded.publish('values', faultPlugin('values.py'));
      await page.goto(`http://127.0.0.1:${httpPort}/#/jobs`);
      const prompt = page.getByRole('dialog', { name: 'Client token' });
      await prompt.waitFor({ timeout: UI_MS });
      assert.match(await prompt.innerText(), /needs a client token/);
      await prompt.locator('input[name=token]').fill('not-the-token');
      await prompt.getByRole('button', { name: 'Use token' }).click();
      await prompt.waitFor({ timeout: UI_MS }); // refused again: asked again
      await shot('token-prompt');
      await prompt.locator('input[name=token]').fill(token);
      await prompt.getByRole('button', { name: 'Use token' }).click();
      await prompt.waitFor({ state: 'detached', timeout: UI_MS });
      // The WatchJobs stream carries the token too: a job queued now shows up without a reload (no worker: it stays QUEUED).
      await page.locator('[data-live=live]').waitFor({ timeout: UI_MS });
      const { id } = await guarded.submit('values', writeCsv(guarded.inputDir, 'guarded.csv', 1));
      await page.locator(`tr[data-job-id="${id}"][data-state=QUEUED]`).waitFor({ timeout: UI_MS });
      assert.equal(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem('casparian.token')), token);
    } finally {
      await guarded.stop();
    }
  });
});
