import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from './log.ts';

/** One HTTP endpoint; a RegExp path passes its capture groups as params. */
export interface Route {
  method: string;
  path: string | RegExp;
  handler(req: IncomingMessage, res: ServerResponse, params: string[]): void | Promise<void>;
}

/**
 * A plain node:http server over a route table: exact string paths or anchored RegExps (matched against the
 * path without query). Unknown path → 404, known path with another method → 405 (with Allow), a handler
 * that throws → 500 logged, with no stack or message sent to the client.
 */
export function createHttpServer(routes: Route[], log: Logger): http.Server {
  return http.createServer((req, res) => {
    void dispatch(routes, log, req, res);
  });
}

async function dispatch(routes: Route[], log: Logger, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let path: string;
  try {
    path = new URL(req.url ?? '/', 'http://localhost').pathname;
  } catch {
    return plain(res, 400, 'bad request');
  }
  const method = (req.method ?? 'GET').toUpperCase();
  const allowed: string[] = [];
  for (const route of routes) {
    const params = match(route.path, path);
    if (!params) continue;
    const routeMethod = route.method.toUpperCase();
    if (routeMethod !== method && !(method === 'HEAD' && routeMethod === 'GET')) {
      allowed.push(routeMethod);
      continue;
    }
    try {
      await route.handler(req, res, params);
    } catch (err) {
      log.error('http handler failed', { method, path, error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) plain(res, 500, 'internal error');
      else res.destroy();
    }
    return;
  }
  if (allowed.length > 0) {
    res.setHeader('Allow', [...new Set(allowed)].join(', '));
    return plain(res, 405, 'method not allowed');
  }
  plain(res, 404, 'not found');
}

function match(pattern: string | RegExp, path: string): string[] | null {
  if (typeof pattern === 'string') return pattern === path ? [] : null;
  const m = pattern.exec(path);
  if (!m || m.index !== 0 || m[0].length !== path.length) return null;
  return m.slice(1).map((p) => (p === undefined ? '' : decodeURIComponentSafe(p)));
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function plain(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
