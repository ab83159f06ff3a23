/**
 * The web console's built files (npm run build writes them to dist/console/):
 * `/` is its index.html, `/assets/*` its scripts and styles, named by content
 * hash and so cached for good. Nothing outside that directory is served.
 */
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as path from 'node:path';

/** Where `npm run build` puts the console, from dist/services/sentinel/http/. */
export const CONSOLE_DIR = path.resolve(__dirname, '..', '..', '..', 'console');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.woff2': 'font/woff2',
};

export function serveStatic(dir: string, pathname: string, req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('only GET here\n');
    return;
  }
  const index = pathname === '/' || pathname === '/index.html';
  if (!index && !pathname.startsWith('/assets/')) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`no ${pathname} here: the console is at /, the API at /casparian.v1.Sentinel/{Method}\n`);
    return;
  }
  const file = path.resolve(dir, index ? 'index.html' : `.${decodeURIComponent(pathname)}`);
  if (!file.startsWith(dir + path.sep)) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) {
      if (index) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end(`the web console is not built (no ${file}): run npm run build\n`);
      } else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'content-length': st.size,
      // Assets are named by their content hash; index.html names the current ones.
      'cache-control': index ? 'no-cache' : 'public, max-age=31536000, immutable',
      'x-content-type-options': 'nosniff',
    });
    if (req.method === 'HEAD') res.end();
    else fs.createReadStream(file).pipe(res);
  });
}
