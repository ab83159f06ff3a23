/**
 * The Sentinel's HTTP port (--http-port): the web console's files and the
 * HTTP/JSON API (http-api.ts), on one listener, in TLS when the Sentinel has
 * a certificate (the same one, and the same client-certificate rule, as its
 * gRPC port), and plaintext off loopback only with --insecure.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { HttpEndpoint } from '../../common/config/types';
import type { Logger } from '../../common/logger';
import { checkPlaintext } from '../../common/tls';
import type { TlsMaterial } from '../../common/tls-material';
import type { HttpApi } from './http-api';
import { serveStatic } from './static-files';

export interface RunningHttpServer {
  port: number;
  /** http(s)://host:port/ */
  url: string;
  close(): Promise<void>;
}

/** Served with the console's page: it loads nothing from elsewhere and is never framed. */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

export async function startHttpServer(o: {
  at: HttpEndpoint;
  tls?: Readonly<TlsMaterial>;
  allowInsecure: boolean;
  api: HttpApi;
  consoleDir: string;
  logger: Logger;
}): Promise<RunningHttpServer> {
  checkPlaintext(o.tls, o.at.host, o.allowInsecure, 'the HTTP port (--http-port)');
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://x');
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('bad request URL\n');
      return;
    }
    if (o.api.owns(url.pathname)) {
      void o.api.handle(req, res, url);
      return;
    }
    if (url.pathname === '/' || url.pathname === '/index.html') for (const [k, v] of Object.entries(PAGE_HEADERS)) res.setHeader(k, v);
    serveStatic(o.consoleDir, url.pathname, req, res);
  };
  const secure = Boolean(o.tls?.cert && o.tls.key);
  const server = secure
    ? https.createServer({ cert: o.tls!.cert, key: o.tls!.key, ca: o.tls!.ca, requestCert: o.tls!.requireClientCert, rejectUnauthorized: o.tls!.requireClientCert }, onRequest)
    : http.createServer(onRequest);
  // Event streams stay open for as long as a page watches; only the request head has a deadline.
  server.requestTimeout = 0;
  server.headersTimeout = 30_000;
  const listen = (port: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      server.listen(port, o.at.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
  try {
    await listen(o.at.port);
  } catch (err) {
    if (!(o.at.anyPortIfBusy && (err as NodeJS.ErrnoException).code === 'EADDRINUSE')) throw err;
    o.logger.warn('the HTTP port is taken; serving on any free port instead', { port: o.at.port });
    await listen(0);
  }
  const port = (server.address() as AddressInfo).port;
  const host = o.at.host.includes(':') ? `[${o.at.host}]` : o.at.host;
  const url = `${secure ? 'https' : 'http'}://${host}:${port}/`;
  let closing: Promise<void> | undefined;
  return {
    port,
    url,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Open event streams would hold close() forever.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
