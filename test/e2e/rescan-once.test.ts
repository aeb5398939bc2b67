// Seam between the web client's periodic rescan (routes.ts timer) and the journal index (scan() shares one walk
// between concurrent callers): a tick that fires while a long walk runs must not announce that walk's journals
// a second time, or every open page gets each new recording twice.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { request } from 'node:http';
import { login, startHarness, writeRecording, type Harness, type SignedIn } from '../web/support.ts';

function journalEvents(h: Harness, s: SignedIn): { ids: string[]; opened: Promise<void>; close(): void } {
  const url = new URL(h.base);
  const ids: string[] = [];
  let buffer = '';
  const req = request({ host: url.hostname, port: url.port, path: '/api/events', headers: { Cookie: s.cookie } });
  const opened = new Promise<void>((resolve, reject) => {
    req.on('response', (res) => {
      resolve();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (/^event: journal$/m.test(block)) ids.push(JSON.parse(/^data: (.*)$/m.exec(block)![1]!).id);
        }
      });
    });
    req.on('error', reject);
  });
  req.end();
  return { ids, opened, close: () => req.destroy() };
}

test('a rescan tick during a long walk (1,000 new journals, 1 ms interval) announces each journal once', async () => {
  const h = await startHarness({ rescanIntervalMs: 1 });
  try {
    const stream = journalEvents(h, await login(h.base, 'ben'));
    await stream.opened;
    const party = { number: '202', userId: 'ben' };
    const start = new Date(2026, 10, 25, 9, 0);
    for (let i = 0; i < 1000; i++) writeRecording(h.spool, { id: `1764500000.${1000 + i}-1764500000`, start, seconds: 1, caller: party, callee: { number: '0409' }, direction: 'outbound' });
    await waitUntil(() => new Set(stream.ids).size === 1000);
    // A marker written afterwards arrives after any duplicate of the batch (one ordered stream).
    writeRecording(h.spool, { id: '1764500001.1-1764500001', start, seconds: 1, caller: party, callee: { number: '0409' }, direction: 'outbound' });
    await waitUntil(() => stream.ids.includes('1764500001.1-1764500001'));
    stream.close();
    assert.is(stream.ids.length, 1001, `${stream.ids.length - 1001} duplicate journal events`);
  } finally {
    await h.close();
  }
});

async function waitUntil(check: () => boolean): Promise<void> {
  const until = Date.now() + 30_000; // a failure guard, not a timing assertion
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test.run();
