/**
 * Rows 10a–10b (issue 12), the HTTP/JSON API's cost over gRPC: the latency of
 * one unary call made over HTTP with JSON (fetch, keep-alive) beside the same
 * call over gRPC with protobuf (the CLI's client), to the same Sentinel
 * process, alternating call by call in the same run. Both go to the same
 * handler; the difference is HTTP/1.1 and the JSON mapping (the request and
 * response each cross the descriptor-set codec once on the server, and
 * JSON.parse on the client).
 *
 * 10a: GetJob of one job. 10b: ListJobs of 50 jobs (about 20 kB of JSON).
 * The Sentinel has no worker, so the jobs stay queued and nothing else runs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SentinelClient } from '../../cli/client';
import { GetJobRequest, ListJobsRequest } from '../../../services/gen/casparian/v1/sentinel';
import { freePort, ServiceProc } from '../service-proc';
import { fmt, quantile, sleep } from '../stats';
import type { BenchContext, Row, RowGroup } from '../types';

const PLUGIN = 'bench_trivial';
const JOBS = 50;

interface Pair {
  http: number[];
  grpc: number[];
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

export const httpGroup: RowGroup = {
  name: 'http',
  rows: '10a-10b',
  perVariant: false,
  async run(ctx: BenchContext): Promise<Row[]> {
    const dir = path.join(ctx.work, 'http');
    fs.mkdirSync(path.join(dir, 'in'), { recursive: true });
    const [port, httpPort] = [await freePort(), await freePort()];
    const sentinel = new ServiceProc({
      cli: path.join(ctx.root, 'dist', 'tools', 'casparian.js'),
      profileDir: ctx.profileDir,
      name: 'http-sentinel',
      command: 'sentinel',
      flags: { 'data-dir': path.join(dir, 'data'), port: String(port), 'http-port': String(httpPort), 'input-root': ctx.work, home: ctx.workerHome, 'index-url': ctx.indexUrl },
      logFile: path.join(dir, 'sentinel.log'),
    });
    const client = new SentinelClient(`127.0.0.1:${port}`, 60_000);
    const base = `http://127.0.0.1:${httpPort}/casparian.v1.Sentinel`;
    const post = async (method: string, body: unknown): Promise<unknown> => {
      const res = await fetch(`${base}/${method}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (res.status !== 200) throw new Error(`${method} over HTTP: ${res.status} ${await res.text()}`);
      return res.json();
    };
    try {
      for (let end = Date.now() + 60_000; ; await sleep(100)) {
        if (!sentinel.alive) throw new Error(`the Sentinel exited:\n${sentinel.tail()}`);
        if (await client.listWorkers({}).then(() => true, () => false)) break;
        if (Date.now() > end) throw new Error(`the Sentinel did not answer:\n${sentinel.tail()}`);
      }
      await client.publishPlugin({
        name: PLUGIN,
        version: '1.0.0',
        source: fs.readFileSync(path.join(ctx.root, 'bench', 'plugins', 'trivial.py'), 'utf8'),
        lockfile: ctx.lockfile,
        manifest: undefined,
      });
      const inputs = Array.from({ length: JOBS }, (_, i) => {
        const f = path.join(dir, 'in', `f${i}.txt`);
        fs.writeFileSync(f, 'x\n');
        return f;
      });
      const { jobIds } = await client.submitJobs({ pluginName: PLUGIN, inputPaths: inputs });
      const n = ctx.scale.latencySamples * 10;
      const cases = [
        { id: '10a', title: 'GetJob latency p50, HTTP/JSON', grpc: () => client.getJob(GetJobRequest.fromPartial({ jobId: jobIds[0] })), http: () => post('GetJob', { jobId: jobIds[0] }) },
        { id: '10b', title: `ListJobs (${JOBS} jobs) latency p50, HTTP/JSON`, grpc: () => client.listJobs(ListJobsRequest.fromPartial({ pageSize: JOBS })), http: () => post('ListJobs', { pageSize: JOBS }) },
      ];
      const rows: Row[] = [];
      for (const c of cases) {
        const got = (await c.http()) as { jobs?: unknown[]; job?: unknown };
        if (!got.job && got.jobs?.length !== JOBS) throw new Error(`${c.id}: unexpected HTTP answer ${JSON.stringify(got).slice(0, 200)}`);
        for (let i = 0; i < 20; i++) await Promise.all([c.http(), c.grpc()]); // warm both paths
        const s: Pair = { http: [], grpc: [] };
        for (let i = 0; i < n; i++) {
          // Alternate which goes first, so neither always follows the other.
          if (i % 2) {
            s.http.push(await timed(c.http));
            s.grpc.push(await timed(c.grpc));
          } else {
            s.grpc.push(await timed(c.grpc));
            s.http.push(await timed(c.http));
          }
        }
        const [hp50, gp50] = [quantile(s.http, 0.5), quantile(s.grpc, 0.5)];
        ctx.say(`  ${c.id}: HTTP p50 ${fmt(hp50)} ms (p99 ${fmt(quantile(s.http, 0.99))}), gRPC p50 ${fmt(gp50)} ms (p99 ${fmt(quantile(s.grpc, 0.99))})`);
        rows.push({
          id: c.id,
          title: c.title,
          unit: 'ms',
          better: 'lower',
          value: hp50,
          reference: gp50,
          refLabel: 'the same call over gRPC, same Sentinel',
          note: `n=${n} calls each, one at a time, alternating; p99 HTTP ${fmt(quantile(s.http, 0.99))} ms, gRPC ${fmt(quantile(s.grpc, 0.99))} ms`,
          detail: { httpP99: quantile(s.http, 0.99), grpcP99: quantile(s.grpc, 0.99) },
        });
      }
      return rows;
    } finally {
      client.close();
      await sentinel.stop(30_000);
    }
  },
};
