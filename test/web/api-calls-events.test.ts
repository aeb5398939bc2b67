import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { auditLogPath } from '../../runtime/web/audit-log.ts';
import { login, MemoryCallControl, openEvents, startHarness, writeRecording, type Harness, type SignedIn } from './support.ts';

const test = suite<{ h: Harness; calls: MemoryCallControl; s: Record<string, SignedIn> }>('web calls API and live events');

test.before(async (ctx) => {
  ctx.calls = new MemoryCallControl();
  ctx.h = await startHarness({ calls: ctx.calls });
  ctx.s = {};
  for (const user of ['anna', 'ben', 'carla']) ctx.s[user] = await login(ctx.h.base, user);
});
test.after(async (ctx) => {
  await ctx.h.close();
});
test.before.each(({ calls }) => {
  calls.calls = [
    { id: '1764100000.31', userId: 'carla', channel: 'PJSIP/301-00000031', peer: { number: '0305556667' }, direction: 'inbound', startedAt: new Date().toISOString(), recording: false, paused: false, manualAllowed: true },
    { id: '1764100000.41', userId: 'anna', channel: 'PJSIP/201-00000041', peer: { number: '0301234567' }, direction: 'outbound', startedAt: new Date().toISOString(), recording: true, paused: false, manualAllowed: false },
  ];
});

function post(h: Harness, s: SignedIn, callId: string, body: unknown, csrf = true) {
  return fetch(`${h.base}/api/calls/${callId}/record`, {
    method: 'POST',
    headers: { Cookie: s.cookie, 'Content-Type': 'application/json', ...(csrf ? { 'X-CSRF-Token': s.csrf } : {}) },
    body: JSON.stringify(body),
  });
}

test("GET /api/calls lists only the signed-in user's calls", async ({ h, s }) => {
  const carla = (await (await fetch(`${h.base}/api/calls`, { headers: { Cookie: s.carla.cookie } })).json()) as { calls: { id: string }[] };
  assert.equal(carla.calls.map((c) => c.id), ['1764100000.31']);
  const ben = (await (await fetch(`${h.base}/api/calls`, { headers: { Cookie: s.ben.cookie } })).json()) as { calls: unknown[] };
  assert.equal(ben.calls, []);
});

test('start → pause → resume → stop on an allowed call changes the call state and is audited with the result', async ({ h, s, calls }) => {
  const steps: [string, { recording: boolean; paused: boolean }][] = [
    ['start', { recording: true, paused: false }],
    ['pause', { recording: true, paused: true }],
    ['resume', { recording: true, paused: false }],
    ['stop', { recording: false, paused: false }],
  ];
  for (const [action, expected] of steps) {
    const res = await post(h, s.carla, '1764100000.31', { action });
    assert.is(res.status, 200, action);
    assert.equal(await res.json(), expected);
    assert.is(calls.calls[0].recording, expected.recording);
    assert.is(calls.calls[0].paused, expected.paused);
  }
  const log = readFileSync(auditLogPath(h.spool), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const mine = log.filter((e) => e.user === 'carla' && e.call === '1764100000.31').map((e) => `${e.action}:${e.result}`);
  assert.equal(mine, ['record-start:ok', 'record-pause:ok', 'record-resume:ok', 'record-stop:ok']);
});

test("someone else's call → 404; a call without manual rights → 403; neither reaches CallControl", async ({ h, s, calls }) => {
  let reached = 0;
  const original = calls.startRecording.bind(calls);
  calls.startRecording = async (u, c) => {
    reached++;
    return original(u, c);
  };
  try {
    assert.is((await post(h, s.ben, '1764100000.31', { action: 'start' })).status, 404);
    assert.is((await post(h, s.anna, '1764100000.31', { action: 'start' })).status, 404);
    assert.is((await post(h, s.anna, '1764100000.41', { action: 'start' })).status, 403);
    assert.is((await post(h, s.anna, '..%2f1764100000.41', { action: 'stop' })).status, 404);
    assert.is(reached, 0);
    assert.is(calls.calls[0].recording, false);
    assert.is(calls.calls[1].recording, true, "anna's auto recording is untouched");
  } finally {
    calls.startRecording = original;
  }
});

test('missing CSRF token → 403 and the recording does not start; bad action → 400', async ({ h, s, calls }) => {
  assert.is((await post(h, s.carla, '1764100000.31', { action: 'start' }, false)).status, 403);
  assert.is(calls.calls[0].recording, false);
  assert.is((await post(h, s.carla, '1764100000.31', { action: 'explode' })).status, 400);
  assert.is((await post(h, s.carla, '1764100000.31', {})).status, 400);
});

test('an AMI failure is reported as 502 with its message and audited', async ({ h, s, calls }) => {
  const original = calls.startRecording.bind(calls);
  calls.startRecording = async () => ({ ok: false, reason: 'ami-error', message: 'Could not start monitoring' });
  try {
    const res = await post(h, s.carla, '1764100000.31', { action: 'start' });
    assert.is(res.status, 502);
    assert.match(((await res.json()) as { message: string }).message, /Could not start/);
  } finally {
    calls.startRecording = original;
  }
  const log = readFileSync(auditLogPath(h.spool), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(log.some((e) => e.user === 'carla' && e.action === 'record-start' && e.result === 'ami-error'));
});

test('live events: a new journal reaches only the users allowed to see it; call changes reach only their user', async ({ h, s, calls }) => {
  const anna = openEvents(h, s.anna);
  const ben = openEvents(h, s.ben);
  try {
    assert.is(await anna.opened, 200);
    assert.is(await ben.opened, 200);
    const bens = writeRecording(h.spool, { id: '1764200000.51-1764200000', start: new Date(2026, 10, 25, 9, 0), seconds: 1, caller: { number: '202', userId: 'ben' }, callee: { number: '0401' }, direction: 'outbound' });
    const annas = writeRecording(h.spool, { id: '1764200100.52-1764200100', start: new Date(2026, 10, 25, 9, 5), seconds: 1, caller: { number: '201', userId: 'anna' }, callee: { number: '0402' }, direction: 'outbound' });
    calls.emitJournal(bens.journal);
    calls.emitJournal(annas.journal);
    calls.emitChange('anna');
    await anna.until(2);
    await ben.until(1);
    // The journal event follows a file read, the calls event does not: their order is not defined.
    assert.equal(anna.events.map((e) => `${e.event} ${e.data}`).sort(), ['calls {}', 'journal {"id":"1764200100.52-1764200100"}']);
    assert.equal(ben.events, [{ event: 'journal', data: '{"id":"1764200000.51-1764200000"}' }]);
    const page = (await (await fetch(`${h.base}/api/recordings?limit=1`, { headers: { Cookie: s.anna.cookie } })).json()) as { rows: { id: string }[] };
    assert.is(page.rows[0].id, '1764200100.52-1764200100', 'the hooked journal is in the index at once');
  } finally {
    anna.close();
    ben.close();
  }
});

test('a journal nobody announced (e.g. written while the service was down) is found by the periodic rescan and pushed live', async () => {
  const h = await startHarness({ rescanIntervalMs: 20 });
  try {
    const s = await login(h.base, 'ben');
    const stream = openEvents(h, s);
    assert.is(await stream.opened, 200);
    writeRecording(h.spool, { id: '1764500000.81-1764500000', start: new Date(2026, 10, 25, 11, 0), seconds: 1, caller: { number: '202', userId: 'ben' }, callee: { number: '0409' }, direction: 'outbound' });
    await stream.until(1);
    assert.equal(stream.events, [{ event: 'journal', data: '{"id":"1764500000.81-1764500000"}' }]);
    stream.close();
  } finally {
    await h.close();
  }
});

test('signing out ends the event stream of that session', async ({ h }) => {
  const s = await login(h.base, 'ben');
  const stream = openEvents(h, s);
  assert.is(await stream.opened, 200);
  const out = await fetch(`${h.base}/api/logout`, { method: 'POST', headers: { Cookie: s.cookie, 'X-CSRF-Token': s.csrf, 'Content-Type': 'application/json' }, body: '{}' });
  assert.is(out.status, 204);
  await stream.ended; // the server closed the stream (a still-open stream would hang here and fail the file)
  const again = openEvents(h, s);
  assert.is(await again.opened, 401);
  again.close();
});

test.run();
