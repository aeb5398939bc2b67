// The web client's compliance marks in a real headless Chromium: a recording under a legal hold shows the hold
// mark (without its reason), recordings checked by `mitschnitt verify` show "verified" or a failed check, and a
// released hold disappears from the page. Journals are the runtime's own; hold and verify run as the real CLI.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createHttpServer } from '../../runtime/http-server.ts';
import { silentLogger } from '../../runtime/log.ts';
import { hashPassword } from '../../runtime/web/password-hash.ts';
import { createWebClient, type WebClient } from '../../runtime/web/routes.ts';
import { storeWebUserHash } from '../../runtime/web/web-users-file.ts';
import { MemoryCallControl } from '../web/support.ts';
import { cli, daysAgo, makeSpool, type Spool } from './support.ts';

interface Ctx {
  s: Spool;
  web: WebClient;
  server: Server;
  base: string;
  browser: Browser;
  ids: { held: string; plain: string; altered: string };
}
const test = suite<Ctx>('compliance marks in the web client');
const PASSWORD = 'anna-secret-1';

test.before(async (ctx) => {
  ctx.s = await makeSpool('mitschnitt-web-marks-');
  const held = await ctx.s.record({ start: daysAgo(3), caller: '201', callee: '+4930123456' });
  const plain = await ctx.s.record({ start: daysAgo(2), caller: '201', callee: '+4940555555' });
  const altered = await ctx.s.record({ start: daysAgo(1), caller: '+4989111111', callee: '201' });
  ctx.ids = { held: held.id, plain: plain.id, altered: altered.id };
  const cfg = ['--config', ctx.s.ws.config];
  assert.is((await cli(['hold', 'add', ...cfg, '--recording', held.id, '--reason', 'Streit mit Kunde Meier, Az. 3 O 77/26'])).code, 0);
  assert.is((await cli(['verify', ...cfg])).code, 0);
  const bytes = await readFile(altered.audio);
  bytes[300] ^= 0x0f;
  await writeFile(altered.audio, bytes);
  assert.is((await cli(['verify', ...cfg])).code, 1);

  await storeWebUserHash(ctx.s.ws.secrets, 'anna', await hashPassword(PASSWORD));
  ctx.web = createWebClient({ policy: ctx.s.policy, log: silentLogger, calls: new MemoryCallControl(), rescanIntervalMs: 0 });
  await ctx.web.ready;
  ctx.server = createHttpServer(ctx.web.routes, silentLogger);
  await new Promise<void>((resolve) => ctx.server.listen(0, '127.0.0.1', resolve));
  ctx.base = `http://127.0.0.1:${(ctx.server.address() as AddressInfo).port}`;
  ctx.browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

test.after(async (ctx) => {
  await ctx.browser?.close();
  ctx.web?.close();
  ctx.server?.closeAllConnections();
  await new Promise<void>((resolve) => (ctx.server ? ctx.server.close(() => resolve()) : resolve()));
  if (ctx.s) await rm(ctx.s.ws.root, { recursive: true, force: true });
});

async function signIn(page: Page, base: string): Promise<void> {
  await page.goto(base);
  await page.waitForSelector('#login:not([hidden])');
  await page.fill('#login-user', 'anna');
  await page.fill('#login-password', PASSWORD);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#rows tr');
}

const marksOf = (page: Page, id: string) =>
  page.$$eval(`#rows tr[data-id="${id}"] .mark`, (els) => els.map((e) => ({ cls: e.className, text: e.textContent, title: e.getAttribute('title') })));

test('held, verified and failed marks per row (German); the hold reason is not shown', async ({ browser, base, ids }) => {
  const page = await browser.newPage({ locale: 'de-DE' });
  await signIn(page, base);
  const held = await marksOf(page, ids.held);
  assert.equal(held.map((m) => [m.cls, m.text]), [['mark held', '§ Löschsperre'], ['mark verified', '✓ geprüft']]);
  assert.match(held[1]!.title!, /^Vollständig und unverändert, geprüft am /);
  const plain = await marksOf(page, ids.plain);
  assert.equal(plain.map((m) => m.cls), ['mark verified']);
  const altered = await marksOf(page, ids.altered);
  assert.equal(altered.map((m) => [m.cls, m.text]), [['mark verify-failed', '⚠ Prüfung fehlgeschlagen']]);
  assert.not.match(await page.content(), /Meier|3 O 77/);
  await page.screenshot({ path: 'test-output/compliance-marks.png' }).catch(() => {});
  await page.close();
});

test('the API carries the marks; after hold release the mark is gone on the next load (English)', async ({ browser, base, ids, s }) => {
  const page = await browser.newPage({ locale: 'en-GB' });
  await signIn(page, base);
  const api = await page.evaluate(async () => (await fetch('/api/recordings')).json());
  const row = (id: string) => api.rows.find((r: { id: string }) => r.id === id);
  assert.equal([row(ids.held).held, row(ids.held).verified], [true, true]);
  assert.is(row(ids.plain).held, undefined);
  assert.is(row(ids.altered).verified, false);
  assert.equal((await marksOf(page, ids.held)).map((m) => m.text), ['§ Legal hold', '✓ verified']);

  assert.is((await cli(['hold', 'release', 'h1', '--config', s.ws.config, '--reason', 'Vergleich'])).code, 0);
  await new Promise((r) => setTimeout(r, 1100)); // the marks are re-read at most once a second
  await page.reload();
  await page.waitForSelector('#rows tr');
  assert.equal((await marksOf(page, ids.held)).map((m) => m.cls), ['mark verified']);
  await page.close();
});

test.run();
