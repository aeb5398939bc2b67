// Seam between the web client's periodic rescan (routes.ts timer) and the journal index (scan() shares one walk
// between concurrent callers): a tick that fires while a long walk runs must not announce that walk's journals
// a second time, or every open page gets each new recording twice.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { login, openEvents, startHarness, writeRecording } from '../web/support.ts';

/** Ids of the `journal` events of one stream, in arrival order. */
function journalIds(stream: ReturnType<typeof openEvents>): string[] {
  return stream.events.filter((e) => e.event === 'journal').map((e) => (JSON.parse(e.data) as { id: string }).id);
}

test('a rescan tick during a long walk (1,000 new journals, 1 ms interval) announces each journal once', async () => {
  const h = await startHarness({ rescanIntervalMs: 1 });
  try {
    const stream = openEvents(h, await login(h.base, 'ben'));
    await stream.opened;
    const party = { number: '202', userId: 'ben' };
    const start = new Date(2026, 10, 25, 9, 0);
    for (let i = 0; i < 1000; i++) writeRecording(h.spool, { id: `1764500000.${1000 + i}-1764500000`, start, seconds: 1, caller: party, callee: { number: '0409' }, direction: 'outbound' });
    await waitUntil(() => new Set(journalIds(stream)).size === 1000);
    // A marker written afterwards arrives after any duplicate of the batch (one ordered stream).
    writeRecording(h.spool, { id: '1764500001.1-1764500001', start, seconds: 1, caller: party, callee: { number: '0409' }, direction: 'outbound' });
    await waitUntil(() => journalIds(stream).includes('1764500001.1-1764500001'));
    stream.close();
    assert.is(journalIds(stream).length, 1001, `${journalIds(stream).length - 1001} duplicate journal events`);
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
