/**
 * Client side of row 5: reading a server stream and counting its bytes, for
 * FetchOutput and for the raw grpc-js reference (grpc-stream-peer.ts in a
 * process of its own, so that both streams cross two Node processes on
 * loopback). Bytes are counted, never gathered.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { channelOptions } from '../../services/common/grpc-server';
import type { FetchOutputResponse } from '../../services/gen/casparian/v1/sentinel';
import type { SentinelClient } from '../cli/client';
import { RAW_STREAM } from './grpc-stream-peer';
import { median } from './stats';

export interface StreamRead {
  bytes: number;
  ms: number;
  chunks: number;
  medianChunk: number;
}

async function count(stream: AsyncIterable<{ length: number }>): Promise<StreamRead> {
  const t0 = performance.now();
  const sizes: number[] = [];
  for await (const m of stream) sizes.push(m.length);
  const ms = performance.now() - t0;
  return { bytes: sizes.reduce((a, b) => a + b, 0), ms, chunks: sizes.length, medianChunk: median(sizes) };
}

/** Reads a job's output with FetchOutput, from the call to the stream's end. */
export async function readFetchOutput(client: SentinelClient, jobId: string): Promise<StreamRead> {
  await client.ready();
  const call = client.raw.fetchOutput({ jobId, outputName: '' });
  async function* data(): AsyncGenerator<{ length: number }> {
    for await (const m of call as AsyncIterable<FetchOutputResponse>) yield m.data;
  }
  return count(data());
}

/** Starts the reference server process, reads `bytes` in `chunk`-byte messages from it, stops it. */
export async function readRawStream(root: string, bytes: number, chunk: number): Promise<StreamRead> {
  const server = spawn(process.execPath, [path.join(root, 'dist', 'tools', 'bench', 'grpc-stream-peer.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const Client = grpc.makeGenericClientConstructor(RAW_STREAM, 'RawStream');
  let client: grpc.Client | undefined;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.once('exit', (code) => reject(new Error(`the raw stream server exited ${code}`)));
      server.stdout!.setEncoding('utf8').once('data', (d: string) => resolve(Number(d.trim())));
    });
    client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), channelOptions());
    const c = client;
    await new Promise<void>((resolve, reject) => c.waitForReady(Date.now() + 10_000, (e) => (e ? reject(e) : resolve())));
    const call = (c as unknown as Record<string, (req: Buffer) => AsyncIterable<Buffer>>).read(Buffer.from(JSON.stringify({ bytes, chunk })));
    return await count(call);
  } finally {
    client?.close();
    server.kill('SIGTERM');
  }
}
