/**
 * `node dist/tools/perf/grpc-chunks.js [--mb N]`: a raw grpc-js client stream
 * between two Node processes (bytes in, bytes out, no protobuf), MB/s by
 * message size: how the Conclude chunk size was chosen (docs/adr/0002).
 * The server runs with the Sentinel's message limits; the window is grpc-js's
 * default (the Sentinel does not change it).
 */
import { fork } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { MAX_MESSAGE_BYTES } from '../../services/common/grpc-server';

const id = (x: Buffer): Buffer => x;
const def: grpc.ServiceDefinition = {
  up: { path: '/perf.Bytes/Up', requestStream: true, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id, originalName: 'up' },
};
const SIZES = [64 << 10, 256 << 10, 1 << 20, 4 << 20];

function server(): void {
  const s = new grpc.Server({ 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES });
  s.addService(def, {
    up: (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      let n = 0;
      call.on('data', (d: Buffer) => (n += d.byteLength));
      call.on('end', () => cb(null, Buffer.from(String(n))));
    },
  });
  s.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (_e, port) => process.send!(port));
}

async function client(totalMb: number): Promise<void> {
  const child = fork(__filename, ['--server']);
  const port = await new Promise<number>((r) => child.once('message', (p) => r(p as number)));
  const Client = grpc.makeGenericClientConstructor(def, 'perf.Bytes');
  const c = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': MAX_MESSAGE_BYTES });
  const total = totalMb << 20;
  try {
    for (const size of SIZES) {
      const buf = Buffer.alloc(size, 7);
      const t0 = performance.now();
      await new Promise<void>((resolve, reject) => {
        const call = (c as unknown as { up(cb: (e: Error | null) => void): grpc.ClientWritableStream<Buffer> }).up((e) => (e ? reject(e) : resolve()));
        let sent = 0;
        const pump = (): void => {
          while (sent < total) {
            sent += size;
            if (!call.write(buf)) {
              call.once('drain', pump);
              return;
            }
          }
          call.end();
        };
        pump();
      });
      const s = (performance.now() - t0) / 1000;
      process.stdout.write(`${JSON.stringify({ messageKiB: size >> 10, mbps: +(totalMb / s).toFixed(0) })}\n`);
    }
  } finally {
    c.close();
    child.kill();
  }
}

if (process.argv.includes('--server')) server();
else {
  const i = process.argv.indexOf('--mb');
  client(i > 0 ? Number(process.argv[i + 1]) : 512).catch((e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exitCode = 1;
  });
}
