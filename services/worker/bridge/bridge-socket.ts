/** The bridge's Unix socket: a listening server only the worker's user may connect to, and backpressured writes. */
import * as fs from 'node:fs';
import * as net from 'node:net';

/** Listen on `socketPath` (mode 0600; the server is closed again if that fails); later server errors go to `onError`. */
export async function listenPrivate(socketPath: string, onConnection: (sock: net.Socket) => void, onError: (e: Error) => void): Promise<net.Server> {
  const server = net.createServer(onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', onError);
  try {
    await fs.promises.chmod(socketPath, 0o600);
  } catch (e) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw e;
  }
  return server;
}

/** Write to a socket, waiting for 'drain' when its buffer is full; rejects when it is (or gets) closed first. */
export function writeDrained(sock: net.Socket | undefined, buf: Buffer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (!sock || sock.destroyed) return reject(new Error('bridge socket is closed'));
    if (sock.write(buf)) return resolve();
    const done = (err?: Error): void => {
      sock.off('drain', onDrain);
      sock.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = (): void => done();
    const onClose = (): void => done(new Error('bridge socket closed before drain'));
    sock.on('drain', onDrain);
    sock.on('close', onClose);
  });
}
