// The web client in a real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core): sign-in,
// the journal with REC marks, playing and downloading, a live new recording, the record button on an active
// call, and what another user does not see. Screenshots go to test-output/ for a human look.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { auditLogPath } from '../../runtime/web/audit-log.ts';
import { BEN, MemoryCallControl, PASSWORDS, startHarness, writeRecording, type Harness } from './support.ts';

const OUT = join(process.cwd(), 'test-output');
const test = suite<{ h: Harness & { fixtures: Awaited<ReturnType<typeof startHarness>>['fixtures'] }; calls: MemoryCallControl; browser: Browser; anna: Page; carla: Page }>(
  'web client in Chromium',
);

test.before(async (ctx) => {
  mkdirSync(OUT, { recursive: true });
  ctx.calls = new MemoryCallControl();
  ctx.h = await startHarness({ calls: ctx.calls });
  ctx.browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
test.after(async (ctx) => {
  await ctx.browser?.close();
  await ctx.h?.close();
});

async function signIn(page: Page, base: string, user: string): Promise<void> {
  await page.goto(base);
  await page.waitForSelector('#login:not([hidden])');
  // Keyboard only: the form is usable without a mouse.
  await page.focus('#login-user');
  await page.keyboard.type(user);
  await page.keyboard.press('Tab');
  await page.keyboard.type(PASSWORDS[user]);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#app:not([hidden])');
}

const rowIds = (page: Page) => page.$$eval('#rows tr', (rows) => rows.map((r) => r.getAttribute('data-id')));

test('a wrong password shows an error and keeps the journal hidden', async ({ browser, h }) => {
  const page = await browser.newPage({ locale: 'en-US' });
  await page.goto(h.base);
  await page.fill('#login-user', 'anna');
  await page.fill('#login-password', 'not-her-password');
  await page.click('#login-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('login-error')!.textContent !== '');
  assert.is(await page.textContent('#login-error'), 'Wrong user or password.');
  assert.ok(await page.isHidden('#app'));
  await page.close();
});

test('anna signs in (German browser) and sees her journal, newest first, each with a REC mark and the rule', async (ctx) => {
  const context = await ctx.browser.newContext({ locale: 'de-DE', viewport: { width: 1200, height: 800 } });
  ctx.anna = await context.newPage();
  await signIn(ctx.anna, ctx.h.base, 'anna');
  await ctx.anna.waitForSelector('#rows tr');
  assert.equal(await rowIds(ctx.anna), ['1764000200.13-1764000200', '1764000100.12-1764000100', '1764000000.11-1764000000']);
  const recs = await ctx.anna.$$eval('#rows .rec', (els) => els.map((e) => e.textContent));
  assert.equal(recs, ['● REC', '● REC', '● REC']);
  assert.is(await ctx.anna.textContent('th:nth-child(1)'), 'Datum');
  const second = await ctx.anna.$$eval('#rows tr:nth-child(2) td', (tds) => tds.map((td) => td.textContent));
  assert.equal(second.slice(0, 7), ['24.11.2026', '10:02', 'Kunde GmbH (0897654321)', '↙ eingehend', '0:02', '● REC', 'Vertrieb: externe Gespräche']);
});

test('every control has an accessible name and is reachable with Tab', async ({ anna }) => {
  const unnamed = await anna.evaluate(() =>
    [...document.querySelectorAll('button, a[href], input, select, audio')]
      .filter((e) => !(e as HTMLElement).hidden && (e as HTMLElement).offsetParent !== null)
      .filter((e) => {
        const label = e.getAttribute('aria-label') || e.textContent?.trim() || (e.id && document.querySelector(`label[for="${e.id}"]`)?.textContent?.trim()) || e.closest('label')?.textContent?.trim();
        return !label && e.tagName !== 'AUDIO';
      })
      .map((e) => e.outerHTML.slice(0, 80)),
  );
  assert.equal(unnamed, []);
  const reached = new Set<string>();
  await anna.focus('#lang');
  for (let i = 0; i < 40; i++) {
    await anna.keyboard.press('Tab');
    reached.add(await anna.evaluate(() => document.activeElement?.closest('tr')?.getAttribute('data-id') ?? document.activeElement?.id ?? ''));
  }
  for (const id of ['logout', 'f-from', 'f-number', '1764000000.11-1764000000']) assert.ok(reached.has(id), `Tab reaches ${id}`);
});

test('play: the audio element loads the recording over Range requests and reaches canplay; the play is audited', async ({ anna, h }) => {
  await anna.evaluate(() => {
    const audio = document.getElementById('audio') as HTMLAudioElement;
    (window as unknown as { canplay: Promise<boolean> }).canplay = new Promise((resolve) => audio.addEventListener('canplay', () => resolve(true), { once: true }));
  });
  await anna.click('#rows tr[data-id="1764000000.11-1764000000"] button');
  assert.ok(await anna.evaluate(() => (window as unknown as { canplay: Promise<boolean> }).canplay));
  const duration = await anna.evaluate(() => (document.getElementById('audio') as HTMLAudioElement).duration);
  assert.ok(Math.abs(duration - 3) < 0.01, `decoded duration ${duration}`);
  const log = readFileSync(auditLogPath(h.spool), 'utf8');
  assert.match(log, /"user":"anna","action":"play","recording":"1764000000.11-1764000000"/);
});

test('download: the browser saves the file under its proper name with the exact bytes', async ({ anna, h }) => {
  const [download] = await Promise.all([anna.waitForEvent('download'), anna.click('#rows tr[data-id="1764000100.12-1764000100"] a')]);
  assert.is(download.suggestedFilename(), '2026-11-24_0897654321_1764000100-12-1764000100.wav');
  const saved = readFileSync((await download.path())!);
  assert.ok(saved.equals(h.fixtures.annaIn.bytes));
});

test('a new recording appears in the journal without reload', async ({ anna, h, calls }) => {
  const fresh = writeRecording(h.spool, {
    id: '1764300000.61-1764300000',
    start: new Date(2026, 10, 25, 8, 30),
    seconds: 2,
    caller: { number: '0301234599', name: 'Neu AG' },
    callee: { number: '201', name: 'Anna Berger', userId: 'anna' },
    direction: 'inbound',
  });
  calls.emitJournal(fresh.journal);
  await anna.waitForSelector('#rows tr[data-id="1764300000.61-1764300000"]');
  assert.is((await rowIds(anna))[0], '1764300000.61-1764300000');
  await anna.click('#rows tr[data-id="1764300000.61-1764300000"] button');
  await anna.waitForFunction(() => (document.getElementById('audio') as HTMLAudioElement).readyState >= 3);
  await anna.screenshot({ path: join(OUT, 'web-journal-de.png'), fullPage: true });
});

test('carla (English, keyboard) starts, pauses and stops a recording of her active call; the state updates live', async (ctx) => {
  const { calls, h } = ctx;
  calls.calls = [
    { id: '1764400000.71', userId: 'carla', channel: 'PJSIP/301-00000071', peer: { number: '0305556667', name: 'Kunde Meier' }, direction: 'inbound', startedAt: new Date(Date.now() - 65_000).toISOString(), recording: false, paused: false, manualAllowed: true },
  ];
  const context = await ctx.browser.newContext({ locale: 'en-US', viewport: { width: 1000, height: 700 } });
  ctx.carla = await context.newPage();
  await signIn(ctx.carla, h.base, 'carla');
  const page = ctx.carla;
  await page.waitForSelector('li[data-call="1764400000.71"]');
  assert.is(await page.textContent('li[data-call] .call-state'), 'Not recording');
  await page.focus('button.record');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('li[data-call] .call-state')?.textContent === 'Recording');
  assert.is(calls.calls[0].recording, true);
  assert.is(await page.getAttribute('button.record', 'aria-pressed'), 'true');
  assert.is(await page.evaluate(() => document.activeElement?.getAttribute('data-control')), '1764400000.71:record', 'focus stays on the button');
  await page.click('li[data-call] button.secondary');
  await page.waitForFunction(() => document.querySelector('li[data-call] .call-state')?.textContent === 'Recording paused');
  assert.is(calls.calls[0].paused, true);
  await page.screenshot({ path: join(OUT, 'web-calls-en.png'), fullPage: true });
  await page.click('button.record');
  await page.waitForFunction(() => document.querySelector('li[data-call] .call-state')?.textContent === 'Not recording');
  assert.is(calls.calls[0].recording, false);
  // The runtime reports a change (e.g. the feature code on the phone started recording): the page follows.
  calls.calls[0].recording = true;
  calls.emitChange('carla');
  await page.waitForFunction(() => document.querySelector('li[data-call] .call-state')?.textContent === 'Recording');
  // The call ends.
  calls.calls = [];
  calls.emitChange('carla');
  await page.waitForSelector('#no-calls:not([hidden])');
  const log = readFileSync(auditLogPath(h.spool), 'utf8');
  for (const action of ['record-start', 'record-pause', 'record-stop']) assert.match(log, new RegExp(`"user":"carla","action":"${action}","call":"1764400000.71"`));
});

test("anna sees neither carla's call nor carla's recording, and cannot fetch its audio", async ({ anna, calls }) => {
  calls.calls = [
    { id: '1764400000.72', userId: 'carla', channel: 'PJSIP/301-00000072', peer: { number: '0305556668' }, direction: 'inbound', startedAt: new Date().toISOString(), recording: false, paused: false, manualAllowed: true },
  ];
  calls.emitChange('carla');
  await anna.reload();
  await anna.waitForSelector('#rows tr');
  assert.ok(await anna.isVisible('#no-calls'));
  assert.is(await anna.$$eval('li[data-call]', (l) => l.length), 0);
  assert.not.ok((await rowIds(anna)).includes('1764000400.15-1764000400'));
  const status = await anna.evaluate(() => fetch('/api/recordings/1764000400.15-1764000400/audio').then((r) => r.status));
  assert.is(status, 404);
  const direct = await anna.evaluate(() =>
    fetch('/api/calls/1764400000.72/record', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"action":"start"}' }).then((r) => r.status),
  );
  assert.is(direct, 403, 'without the CSRF token the page script itself is refused');
});

test('filters (direction, number, REC/manual) and the language switch work; the page fits a phone screen', async ({ browser, h }) => {
  const context = await browser.newContext({ locale: 'en-GB', viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await signIn(page, h.base, 'eva');
  await page.waitForSelector('#rows tr');
  assert.is((await rowIds(page)).length, 5);
  await page.selectOption('#f-direction', 'inbound');
  await page.fill('#f-number', 'kunde');
  await page.click('#filters button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('#rows tr').length === 1);
  assert.equal(await rowIds(page), ['1764000100.12-1764000100']);
  await page.selectOption('#lang', 'de');
  assert.is(await page.textContent('#journal-title'), 'Journal');
  assert.is(await page.textContent('#filters button[type=submit]'), 'Filtern');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the phone screen`);
  await page.click('#filters button[type=reset]');
  await page.waitForFunction(() => document.querySelectorAll('#rows tr').length === 5);
  await page.selectOption('#f-decision', 'force');
  await page.click('#filters button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('#rows tr').length === 1);
  assert.equal(await rowIds(page), ['1764000200.13-1764000200'], 'only the forced recording');
  await page.click('#filters button[type=reset]');
  await page.waitForFunction(() => document.querySelectorAll('#rows tr').length === 5);
  await page.screenshot({ path: join(OUT, 'web-phone-de.png'), fullPage: true });
  await context.close();
});

test('as a visitor and as Ben the page logs no console error; Ben sees part 2 of a transferred call as his own inbound call with the customer, and an objected recording with its mark and nothing to play', async ({ browser, h, calls }) => {
  const errors: string[] = [];
  const page = await browser.newPage({ locale: 'en-US' });
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(h.base);
  await page.waitForSelector('#login:not([hidden])');
  assert.equal(errors, [], 'signed out: no console error (no 401 on the first request)');

  const part2 = writeRecording(h.spool, {
    id: '1764300010.21-1764300011', start: new Date(2026, 10, 27, 9, 0, 1), seconds: 2, caller: { number: '0301234567' }, callee: BEN, direction: 'inbound',
    journal: { previousPart: '1764300000.20-1764300000', participants: [{ number: '0301234567' }, BEN] },
  });
  calls.emitJournal(part2.journal);
  const objected = writeRecording(h.spool, {
    id: '1764300020.22-1764300022', start: new Date(2026, 10, 27, 9, 0, 2), seconds: 2, caller: { number: '0307777777' }, callee: BEN, direction: 'inbound',
    journal: { objection: { at: '2026-11-27T08:00:05.000Z' }, audioDiscarded: true, sizeBytes: 0, sha256: undefined },
  });
  rmSync(objected.audio);
  calls.emitJournal(objected.journal);

  await signIn(page, h.base, 'ben');
  const transferred = page.locator('#rows tr[data-id="1764300010.21-1764300011"]');
  await transferred.waitFor();
  const text = await transferred.textContent();
  assert.match(text!, '0301234567');
  assert.match(text!, /inbound/);
  assert.not.match(text!, /Anna/);
  const marked = page.locator('#rows tr[data-id="1764300020.22-1764300022"]');
  await marked.waitFor();
  assert.match((await marked.textContent())!, '✋');
  assert.is(await marked.locator('audio, button').count(), 0, 'nothing to play or download');
  await page.screenshot({ path: join(OUT, 'ben-transfer-and-objection.png'), fullPage: true });
  assert.equal(errors, [], 'signed in: no console error');
  await page.close();
});

test('sign-out returns to the sign-in form; the journal API then refuses the old session', async ({ anna }) => {
  await anna.click('#logout');
  await anna.waitForSelector('#login:not([hidden])');
  assert.ok(await anna.isHidden('#app'));
  assert.is(await anna.evaluate(() => fetch('/api/recordings').then((r) => r.status)), 401);
});

test.run();
