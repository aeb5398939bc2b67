// The web client mounted in the real `mitschnitt serve` (startServe), talking AMI to the protocol-accurate fake
// Asterisk (test/support/fake-ami-server.ts), driven from a real headless Chromium: the red button starts a
// MixMonitor on the live call, stopping it produces a journal that shows up in the page without reload.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { hashPassword } from '../../runtime/web/password-hash.ts';
import { storeWebUserHash } from '../../runtime/web/web-users-file.ts';
import { BEN, RuntimeEnv, TRUNK, phone } from '../runtime/runtime-env.ts';

const OUT = join(process.cwd(), 'test-output');
const test = suite<{ env: RuntimeEnv; browser: Browser }>('web client on mitschnitt serve with the fake AMI');

test.before(async (ctx) => {
  mkdirSync(OUT, { recursive: true });
  ctx.env = await RuntimeEnv.create();
  await storeWebUserHash(ctx.env.secretsDir, 'ben', await hashPassword('ben-web-password'));
  await storeWebUserHash(ctx.env.secretsDir, 'anna', await hashPassword('anna-web-password'));
  await ctx.env.start({ web: true });
  await ctx.env.serve!.synced();
  ctx.browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
test.after(async (ctx) => {
  await ctx.browser?.close();
  await ctx.env?.dispose();
});

async function signIn(browser: Browser, base: string, user: string, password: string): Promise<Page> {
  const page = await (await browser.newContext({ locale: 'en-US' })).newPage();
  await page.goto(base);
  await page.fill('#login-user', user);
  await page.fill('#login-password', password);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#app:not([hidden])');
  return page;
}

test('ben records his live call from the page: MixMonitor on his channel, then the journal appears live and plays', async ({ env, browser }) => {
  const call = env.plainCall(phone(BEN.ext, 'ben-web-1@10.0.0.2'), TRUNK('0307777'), 'manual');
  await env.sync();
  const ben = await signIn(browser, env.base, 'ben', 'ben-web-password');
  await ben.waitForSelector('li[data-call] button.record');
  assert.match((await ben.textContent('li[data-call] .call-party'))!, /0307777/);
  assert.is(await ben.textContent('li[data-call] .call-state'), 'Not recording');

  await ben.click('button.record');
  await ben.waitForFunction(() => document.querySelector('li[data-call] .call-state')?.textContent === 'Recording');
  const started = env.fake.actions.filter((a) => a.name === 'mixmonitor');
  assert.is(started.length, 1);
  assert.equal(started[0].headers.find(([k]) => k === 'Channel')?.[1], call.caller);

  await ben.click('li[data-call] button.secondary'); // pause
  await ben.waitForFunction(() => document.querySelector('li[data-call] .call-state')?.textContent === 'Recording paused');
  assert.ok(env.fake.actions.some((a) => a.name === 'mixmonitormute'));
  await ben.click('li[data-call] button.secondary'); // resume
  await ben.waitForFunction(() => document.querySelector('li[data-call] .call-state')?.textContent === 'Recording');

  env.fake.advance(2);
  await ben.click('button.record');
  await ben.waitForFunction(() => document.querySelector('li[data-call] .call-state')?.textContent === 'Not recording');
  assert.ok(env.fake.actions.some((a) => a.name === 'stopmixmonitor'));

  // The runtime journals the recording and tells the web client: the row appears without a reload.
  await ben.waitForSelector('#rows tr');
  const cells = await ben.$$eval('#rows tr:first-child td', (tds) => tds.map((td) => td.textContent));
  assert.match(cells[2]!, /0307777/);
  assert.is(cells[4], '0:02');
  assert.is(cells[5], '● REC');
  assert.is(cells[6], 'Support');
  await ben.evaluate(() => {
    const audio = document.getElementById('audio') as HTMLAudioElement;
    (window as unknown as { canplay: Promise<boolean> }).canplay = new Promise((resolve) => audio.addEventListener('canplay', () => resolve(true), { once: true }));
  });
  await ben.click('#rows tr:first-child button');
  assert.ok(await ben.evaluate(() => (window as unknown as { canplay: Promise<boolean> }).canplay));
  await ben.screenshot({ path: join(OUT, 'web-serve-e2e.png'), fullPage: true });

  // anna shares the host but neither sees ben's call nor his recording.
  const anna = await signIn(browser, env.base, 'anna', 'anna-web-password');
  await anna.waitForSelector('#empty:not([hidden])');
  assert.is(await anna.$$eval('li[data-call]', (l) => l.length), 0);
  const id = await ben.getAttribute('#rows tr:first-child', 'data-id');
  assert.is(await anna.evaluate((rid) => fetch(`/api/recordings/${rid}/audio`).then((r) => r.status), id), 404);

  env.fake.hangup(call.caller);
  await ben.waitForSelector('#no-calls:not([hidden])');
});

test.run();
