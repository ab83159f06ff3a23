/**
 * Row 5's reference server, run as its own Node process by raw-stream.ts: a
 * raw grpc-js server-streaming RPC (no protobuf: the request is JSON, each
 * response is bytes as they are) that sends `bytes` bytes in chunks of
 * `chunk` bytes, waiting for 'drain' when write() says so. Prints its port,
 * then serves until SIGTERM.
 */
import * as grpc from '@grpc/grpc-js';
import { MAX_MESSAGE_BYTES } from '../../services/common/grpc-server';

const identity = (b: Buffer): Buffer => b;

/** The one method: `/bench.RawStream/Read`, request `{"bytes": N, "chunk": C}`. */
export const RAW_STREAM: grpc.ServiceDefinition = {
  read: {
    path: '/bench.RawStream/Read',
    requestStream: false,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

async function read(call: grpc.ServerWritableStream<Buffer, Buffer>): Promise<void> {
  const { bytes, chunk } = JSON.parse(call.request.toString('utf8')) as { bytes: number; chunk: number };
  const full = Buffer.alloc(chunk, 7);
  let cancelled = false;
  call.on('cancelled', () => (cancelled = true));
  for (let sent = 0; sent < bytes && !cancelled; ) {
    const n = Math.min(chunk, bytes - sent);
    sent += n;
    if (!call.write(n === chunk ? full : full.subarray(0, n))) await new Promise((r) => call.once('drain', r));
  }
  call.end();
}

function main(): void {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES, 'grpc.max_send_message_length': MAX_MESSAGE_BYTES });
  server.addService(RAW_STREAM, {
    read: (call: grpc.ServerWritableStream<Buffer, Buffer>) => void read(call).catch((e: Error) => call.destroy(e)),
  });
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) throw err;
    process.stdout.write(`${port}\n`);
  });
  process.once('SIGTERM', () => server.forceShutdown());
}

if (require.main === module) main();
