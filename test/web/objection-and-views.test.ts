// The web client for calls that moved and callers who objected: each party sees the call from their own side
// (a transfer target sees the customer and "inbound"), an objection is marked and a discarded recording offers
// nothing to play; the page's first request answers 200 signed in or not (no 401 in a visitor's console). What the
// page makes of these answers (the mark, no play button, no console error) browser.test.ts checks in Chromium.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync } from 'node:fs';
import type { Journal } from '../../runtime/journal.ts';
import { ANNA, BEN, login, startHarness, writeRecording, type Harness, type Party } from './support.ts';
import { waitFor } from '../support/wait-for.ts';

const test = suite<{ h: Harness }>('web: moved calls and objections');

test.before(async (ctx) => {
  ctx.h = await startHarness();
});
test.after(async (ctx) => {
  await ctx.h.close();
});

interface Row {
  id: string;
  own: boolean;
  peer: { number: string };
  direction: string;
  objectedAt?: string;
  audioDiscarded?: boolean;
}

async function rows(h: Harness, user: string): Promise<Row[]> {
  const s = await login(h.base, user);
  const res = await fetch(`${h.base}/api/recordings`, { headers: { Cookie: s.cookie } });
  return ((await res.json()) as { rows: Row[] }).rows;
}

/** A journal as the runtime writes it, announced to the web index as the runtime does; resolves once indexed. */
async function announce(h: Harness, journal: Partial<Journal>, id: string, caller: Party, callee: Party): Promise<void> {
  const r = writeRecording(h.spool, { id, start: new Date(2026, 10, 25, 9, 0, Number(id.slice(-1))), seconds: 2, caller, callee, direction: 'inbound', journal });
  if (journal.audioDiscarded) rmSync(r.audio);
  h.calls.emitJournal(r.journal);
  await waitFor(`${id} indexed`, () => h.web.index.get(id));
}

test('part 2 of a transferred call (customer → Ben): Ben sees the customer and inbound, Anna (part 1 only) does not see part 2', async ({ h }) => {
  await announce(h, { previousPart: '1764100000.20-1764100000', participants: [{ number: '0301234567' }, BEN] }, '1764100010.21-1764100011', { number: '0301234567' }, BEN);
  const ben = (await rows(h, 'ben')).find((r) => r.id === '1764100010.21-1764100011');
  assert.ok(ben, 'Ben sees his part');
  assert.is(ben!.peer.number, '0301234567');
  assert.is(ben!.direction, 'inbound');
  assert.not.ok((await rows(h, 'anna')).some((r) => r.id === '1764100010.21-1764100011'), 'Anna was not in part 2');
});

test('an objected recording is marked; a discarded one says so (and its audio is gone: 404)', async ({ h }) => {
  await announce(h, { objection: { at: '2026-11-25T08:00:05.000Z' }, audioDiscarded: true, sizeBytes: 0, sha256: undefined }, '1764100020.22-1764100022', { number: '0307777777' }, ANNA);
  const row = (await rows(h, 'anna')).find((r) => r.id === '1764100020.22-1764100022');
  assert.ok(row);
  assert.is(row!.objectedAt, '2026-11-25T08:00:05.000Z');
  assert.is(row!.audioDiscarded, true);
  const s = await login(h.base, 'anna');
  const audio = await fetch(`${h.base}/api/recordings/1764100020.22-1764100022/audio`, { headers: { Cookie: s.cookie } });
  assert.is(audio.status, 404);
});

test('GET /api/session answers 200 signed out ({signedIn:false}) and signed in (user, csrf)', async ({ h }) => {
  const out = await fetch(`${h.base}/api/session`);
  assert.is(out.status, 200);
  assert.equal(await out.json(), { signedIn: false });
  const s = await login(h.base, 'ben');
  const inside = await fetch(`${h.base}/api/session`, { headers: { Cookie: s.cookie } });
  const body = (await inside.json()) as { signedIn: boolean; user: { id: string }; csrf: string };
  assert.is(body.signedIn, true);
  assert.is(body.user.id, 'ben');
  assert.is(body.csrf, s.csrf);
});

test.run();
