import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { auditLogPath } from '../../runtime/web/audit-log.ts';
import { login, PASSWORDS, rawRequest, startHarness, type Harness } from './support.ts';

const test = suite<{ h: Harness }>('web sign-in, sessions, CSRF, headers');

test.before(async (ctx) => {
  ctx.h = await startHarness();
});
test.after(async (ctx) => {
  await ctx.h.close();
});

const json = (body: unknown) => ({ method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

function audit(h: Harness): Record<string, string>[] {
  return readFileSync(auditLogPath(h.spool), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

test('every API route refuses a request without a session with 401', async ({ h }) => {
  const id = '1764000000.11-1764000000';
  const routes: [string, string][] = [
    ['GET', '/api/me'],
    ['GET', '/api/recordings'],
    ['GET', `/api/recordings/${id}/audio`],
    ['GET', `/api/recordings/${id}/download`],
    ['GET', '/api/calls'],
    ['GET', '/api/events'],
    ['POST', '/api/calls/1764000000.11/record'],
    ['POST', '/api/logout'],
  ];
  for (const [method, path] of routes) {
    const res = await rawRequest(h.base, path, { method, headers: { 'Content-Type': 'application/json', Cookie: 'mitschnitt_session=forged' }, body: method === 'POST' ? '{"action":"start"}' : undefined });
    assert.is(res.status, 401, `${method} ${path}`);
    assert.is(res.headers['cache-control'], 'no-store', `${method} ${path} must not be cached`);
    assert.not.match(res.body.toString(), /RIFF/);
  }
});

test('a good sign-in sets an HttpOnly SameSite=Strict session cookie (not Secure without TLS) and returns the CSRF token', async ({ h }) => {
  const res = await fetch(`${h.base}/api/login`, json({ user: 'anna', password: PASSWORDS.anna }));
  assert.is(res.status, 200);
  const cookie = res.headers.get('set-cookie')!;
  assert.match(cookie, /^mitschnitt_session=[A-Za-z0-9_-]{43}; /);
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.not.match(cookie, /Secure/);
  const body = (await res.json()) as { user: { id: string; ext: string }; csrf: string };
  assert.is(body.user.id, 'anna');
  assert.is(body.user.ext, '201');
  assert.ok(body.csrf.length >= 32);
  const me = await fetch(`${h.base}/api/me`, { headers: { Cookie: cookie.split(';')[0], 'Accept-Language': 'de-DE,de;q=0.9,en;q=0.5' } });
  assert.is(me.status, 200);
  assert.is(((await me.json()) as { lang: string }).lang, 'de');
});

test('the cookie is Secure when settings.http.tls is on', async () => {
  const h = await startHarness({ tls: true });
  try {
    const res = await fetch(`${h.base}/api/login`, json({ user: 'ben', password: PASSWORDS.ben }));
    assert.is(res.status, 200);
    assert.match(res.headers.get('set-cookie')!, /; Secure/);
  } finally {
    await h.close();
  }
});

test('a wrong password and an unknown user both get 401 with the same message, and are audited', async ({ h }) => {
  const wrong = await rawRequest(h.base, '/api/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: 'anna', password: 'nope-nope' }), localAddress: '127.0.0.9' });
  const unknown = await rawRequest(h.base, '/api/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: 'mallory', password: 'nope-nope' }), localAddress: '127.0.0.9' });
  assert.is(wrong.status, 401);
  assert.is(unknown.status, 401);
  assert.equal(JSON.parse(wrong.body.toString()), JSON.parse(unknown.body.toString()));
  const failed = audit(h).filter((e) => e.action === 'login-failed' && e.ip === '127.0.0.9');
  assert.equal(failed.map((e) => [e.user, e.result]), [['anna', 'denied'], ['mallory', 'denied']]);
});

test('five failures from one IP → 429 with Retry-After, even with the right password; other IPs are not affected', async ({ h }) => {
  const from = (ip: string, user: string, password: string) =>
    rawRequest(h.base, '/api/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user, password }), localAddress: ip });
  const users = ['x1', 'x2', 'x3', 'x4', 'x5'];
  for (const user of users) assert.is((await from('127.0.0.2', user, 'wrong-password')).status, 401);
  const blocked = await from('127.0.0.2', 'eva', PASSWORDS.eva);
  assert.is(blocked.status, 429);
  assert.ok(Number(blocked.headers['retry-after']) > 0);
  assert.not.ok(blocked.headers['set-cookie']);
  assert.is((await from('127.0.0.3', 'eva', PASSWORDS.eva)).status, 200);
});

test('five failures for one user from many IPs → that user is locked (429), others can sign in', async ({ h }) => {
  const from = (ip: string, user: string, password: string) =>
    rawRequest(h.base, '/api/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user, password }), localAddress: ip });
  for (let i = 0; i < 5; i++) assert.is((await from(`127.0.1.${i + 1}`, 'frank', 'guess-' + i)).status, 401);
  assert.is((await from('127.0.1.50', 'frank', PASSWORDS.frank)).status, 429);
  assert.is((await from('127.0.1.51', 'carla', PASSWORDS.carla)).status, 200);
  assert.ok(audit(h).some((e) => e.user === 'frank' && e.result === 'rate-limited'));
});

test('sign-in refuses bodies that are not JSON (415) and missing fields (400)', async ({ h }) => {
  const form = await fetch(`${h.base}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'user=anna&password=x' });
  assert.is(form.status, 415);
  const missing = await fetch(`${h.base}/api/login`, json({ user: 'anna' }));
  assert.is(missing.status, 400);
  const broken = await fetch(`${h.base}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"user":' });
  assert.is(broken.status, 400);
});

test('state-changing requests without the CSRF token, or with a wrong one, get 403 and change nothing', async ({ h }) => {
  const s = await login(h.base, 'ben');
  const none = await fetch(`${h.base}/api/logout`, { method: 'POST', headers: { Cookie: s.cookie, 'Content-Type': 'application/json' }, body: '{}' });
  assert.is(none.status, 403);
  const wrong = await fetch(`${h.base}/api/logout`, { method: 'POST', headers: { Cookie: s.cookie, 'X-CSRF-Token': s.csrf.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')), 'Content-Type': 'application/json' }, body: '{}' });
  assert.is(wrong.status, 403);
  assert.is((await fetch(`${h.base}/api/me`, { headers: { Cookie: s.cookie } })).status, 200, 'still signed in');
});

test('sign-out ends the session: the old cookie gets 401 afterwards', async ({ h }) => {
  const s = await login(h.base, 'ben');
  const out = await fetch(`${h.base}/api/logout`, { method: 'POST', headers: { Cookie: s.cookie, 'X-CSRF-Token': s.csrf, 'Content-Type': 'application/json' }, body: '{}' });
  assert.is(out.status, 204);
  assert.match(out.headers.get('set-cookie')!, /Max-Age=0/);
  assert.is((await fetch(`${h.base}/api/me`, { headers: { Cookie: s.cookie } })).status, 401);
});

test('a new sign-in gets a new session id (no fixation)', async ({ h }) => {
  const first = await login(h.base, 'carla');
  const res = await fetch(`${h.base}/api/login`, { ...json({ user: 'carla', password: PASSWORDS.carla }), headers: { 'Content-Type': 'application/json', Cookie: first.cookie } });
  const second = res.headers.get('set-cookie')!.split(';')[0];
  assert.is.not(second, first.cookie);
  assert.is((await fetch(`${h.base}/api/me`, { headers: { Cookie: first.cookie } })).status, 401);
  assert.is((await fetch(`${h.base}/api/me`, { headers: { Cookie: second } })).status, 200);
});

test('the page is served with a CSP without inline script and frame-ancestors none; it has no inline script', async ({ h }) => {
  const res = await fetch(`${h.base}/`);
  assert.is(res.status, 200);
  const csp = res.headers.get('content-security-policy')!;
  assert.match(csp, /script-src 'self'/);
  assert.not.match(csp, /unsafe-inline/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.is(res.headers.get('x-content-type-options'), 'nosniff');
  const html = await res.text();
  assert.not.match(html, /<script(?![^>]*\bsrc=)[^>]*>/);
  assert.not.match(html, /\son[a-z]+=/i, 'no inline event handlers');
  for (const asset of ['/app.js', '/i18n.js', '/app.css']) assert.is((await fetch(`${h.base}${asset}`)).status, 200, asset);
  assert.is((await fetch(`${h.base}/static/../../../etc/passwd`)).status, 404);
});

test('a user removed from the policy loses access at once', async ({ h }) => {
  const s = await login(h.base, 'eva');
  const saved = h.policy.users.eva;
  delete h.policy.users.eva;
  try {
    assert.is((await fetch(`${h.base}/api/recordings`, { headers: { Cookie: s.cookie } })).status, 401);
  } finally {
    h.policy.users.eva = saved;
  }
});

test.run();
