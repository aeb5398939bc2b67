import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Route } from '../http-server.ts';
import { viewerFor, type Viewer } from './access.ts';
import { clientIp, parseCookies, readJsonBody, sendError, sendJson } from './http-util.ts';
import { verifyPassword } from './password-hash.ts';
import type { Session } from './sessions.ts';
import { readWebUsers } from './web-users-file.ts';
import { api, SESSION_COOKIE, sessionOf, signedIn, type WebContext } from './web-context.ts';

/** `de` when the browser prefers German over English, else `en`. */
export function preferredLanguage(header: string | undefined): 'de' | 'en' {
  for (const part of (header ?? '').split(',')) {
    const tag = part.split(';')[0].trim().toLowerCase();
    if (tag.startsWith('de')) return 'de';
    if (tag.startsWith('en')) return 'en';
  }
  return 'en';
}

function me(viewer: Viewer, session: Session, req: IncomingMessage) {
  return {
    user: { id: viewer.userId, name: viewer.name, ext: viewer.ext, mayRecordManually: viewer.mayRecordManually },
    csrf: session.csrf,
    lang: preferredLanguage(req.headers['accept-language']),
  };
}

function cookie(ctx: WebContext, value: string, maxAgeSeconds?: number): string {
  const parts = [`${SESSION_COOKIE}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Strict'];
  if (ctx.policy.settings.http.tls) parts.push('Secure');
  if (maxAgeSeconds !== undefined) parts.push(`Max-Age=${maxAgeSeconds}`);
  return parts.join('; ');
}

async function login(ctx: WebContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readJsonBody(req);
  const user = typeof body.user === 'string' ? body.user.trim().slice(0, 64) : '';
  const password = typeof body.password === 'string' ? body.password : '';
  const ip = clientIp(req);
  if (!user || !password || password.length > 1024) return sendError(res, 400, 'bad-request', 'user and password are required');
  const ipKey = `ip:${ip}`;
  const userKey = `user:${user.toLowerCase()}`;
  const wait = Math.max(ctx.ipFailures.retryAfter(ipKey), ctx.userFailures.retryAfter(userKey));
  if (wait > 0) {
    await ctx.audit.append({ user, action: 'login-failed', ip, result: 'rate-limited' });
    return sendError(res, 429, 'rate-limited', 'Too many failed sign-ins. Try again later.', { 'Retry-After': String(wait) });
  }
  let hash: string | undefined;
  try {
    const users = (await readWebUsers(ctx.secretsDir)).users;
    hash = Object.hasOwn(users, user) ? users[user].hash : undefined;
  } catch (err) {
    ctx.log.error('web users file unusable: nobody can sign in', { error: err });
    return sendError(res, 503, 'unavailable', 'Sign-in is not available; the administrator has been told.');
  }
  const viewer = viewerFor(ctx.policy, user);
  // Verified even for unknown users (against a dummy hash): the answer time does not reveal who exists.
  const ok = (await verifyPassword(password, hash)) && viewer !== undefined;
  if (!ok || !viewer) {
    ctx.ipFailures.fail(ipKey);
    ctx.userFailures.fail(userKey);
    await ctx.audit.append({ user, action: 'login-failed', ip, result: 'denied' });
    return sendError(res, 401, 'bad-credentials', 'Wrong user or password.');
  }
  ctx.userFailures.clear(userKey);
  // A fresh id on every sign-in: a session id planted before sign-in is worthless.
  const old = ctx.sessions.get(parseCookies(req.headers.cookie).get(SESSION_COOKIE));
  if (old) ctx.sessions.destroy(old.id);
  const session = ctx.sessions.create(viewer.userId);
  await ctx.audit.append({ user: viewer.userId, action: 'login', ip, result: 'ok' });
  sendJson(res, 200, me(viewer, session, req), { 'Set-Cookie': cookie(ctx, session.id) });
}

export function authRoutes(ctx: WebContext): Route[] {
  return [
    { method: 'POST', path: '/api/login', handler: api((req, res) => login(ctx, req, res)) },
    {
      method: 'POST',
      path: '/api/logout',
      handler: api(async (req, res) => {
        const signed = signedIn(ctx, req, res, true);
        if (!signed) return;
        ctx.sessions.destroy(signed.session.id);
        ctx.events.endSession(signed.session);
        await ctx.audit.append({ user: signed.viewer.userId, action: 'logout', ip: clientIp(req), result: 'ok' });
        res.writeHead(204, { 'Set-Cookie': cookie(ctx, '', 0) });
        res.end();
      }),
    },
    {
      // The page's first question: answered 200 either way, so a signed-out visitor's browser logs no 401 error.
      method: 'GET',
      path: '/api/session',
      handler: api((req, res) => {
        const signed = sessionOf(ctx, req);
        sendJson(res, 200, signed ? { signedIn: true, ...me(signed.viewer, signed.session, req) } : { signedIn: false });
      }),
    },
    {
      method: 'GET',
      path: '/api/me',
      handler: api((req, res) => {
        const signed = signedIn(ctx, req, res, false);
        if (signed) sendJson(res, 200, me(signed.viewer, signed.session, req));
      }),
    },
  ];
}
