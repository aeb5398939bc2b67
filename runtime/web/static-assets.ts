import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Route } from '../http-server.ts';
import { applySecurityHeaders } from './http-util.ts';

const DIR = fileURLToPath(new URL('./static/', import.meta.url));

// A fixed table: the URL never becomes a file path, so nothing outside it can be served.
const ASSETS: { path: string; file: string; type: string }[] = [
  { path: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
  { path: '/app.js', file: 'app.js', type: 'text/javascript; charset=utf-8' },
  { path: '/i18n.js', file: 'i18n.js', type: 'text/javascript; charset=utf-8' },
  { path: '/app.css', file: 'app.css', type: 'text/css; charset=utf-8' },
  { path: '/favicon.svg', file: 'favicon.svg', type: 'image/svg+xml' },
];

/** The page's static files, read once at start (a few KB). */
export function staticRoutes(): Route[] {
  return ASSETS.map(({ path, file, type }) => {
    const body = readFileSync(DIR + file);
    return {
      method: 'GET',
      path,
      handler(_req: IncomingMessage, res: ServerResponse) {
        applySecurityHeaders(res, false);
        res.writeHead(200, { 'Content-Type': type, 'Content-Length': body.length, 'Cache-Control': 'no-cache' });
        res.end(body);
      },
    };
  });
}
