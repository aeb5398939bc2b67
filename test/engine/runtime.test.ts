// `mitschnitt serve` against the real Asterisk with SIPp phones: what an admin and the people on the phone see.
// Auto recordings journaled with the right fields; unanswered and rejected calls leave nothing; manual recording
// by the SNOM key (the phone's real Call-ID, MAC and source address), the web API, the DTMF feature code (RFC 4733)
// and SIP INFO `Record: on|off`; a deny refuses all of them; serve killed or Asterisk restarted mid-call.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Journal } from '../../runtime/journal.ts';
import { cli } from '../e2e/harness.ts';
import { startEnginePbx, type EnginePbx } from './engine-pbx.ts';
import { SippPhone, type Step } from './sip-phones.ts';
import type { TestAmi } from './asterisk-instance.ts';
import { ENGINE_POLL_MS, sleep } from './moving-calls-support.ts';
import { waitFor } from '../support/wait-for.ts';

const EXTERNAL = '0301234567';
const CARLA_MAC = '0004132A3B03';
const BEN_MAC = '0004132A3B02';
const PASSWORD = 'carla-engine-password';
let pbx: EnginePbx;
let ami: TestAmi;

test.before(async () => {
  pbx = await startEnginePbx();
  const set = await cli(['user', 'set-password', 'carla', '--config', pbx.config, '--password-stdin'], { input: `${PASSWORD}\n` });
  if (set.code !== 0) throw new Error(set.stdout + set.stderr);
  await pbx.startServe();
  ami = await pbx.ast.ami();
  await ami.action('Filter', { Operation: 'Add', Filter: 'Event: (BridgeEnter|MixMonitorStart|MixMonitorStop|Hangup|UserEvent)' });
});
test.after(async () => pbx?.stop());

/** A call from `from` (a phone, or the carrier when `from` is external) to `to`; the callee's phone answers unless told. */
async function call(from: string, to: string, steps: Step[], answer: Partial<Parameters<typeof SippPhone.answer>[0]> | null = {}, cancelAfterMs?: number) {
  const callee = answer && pbx.phonePorts[to] ? await SippPhone.answer({ ext: to, port: pbx.phonePorts[to]!, ...answer }) : undefined;
  const external = !pbx.phonePorts[from];
  const caller = await SippPhone.call(pbx.ast.sipPort, { from, to, steps, ...(external ? { header: 'X-Trunk: carrier' } : {}), ...(cancelAfterMs ? { cancelAfterMs } : {}) });
  return { caller, callee, async done() { await caller.done(); await callee?.done(); } };
}

/** Waits until both legs of a call are bridged (the moment a person would press a key). */
async function bridged(since: number): Promise<void> {
  await ami.waitFor((m) => m.event === 'BridgeEnter' && Number(m.get('BridgeNumChannels')) >= 2, 15_000, 'a bridged call', since);
}

/** Presses a SNOM record key as the phone does (raw $call-id in the URL); answers the XML and what serve logged. */
async function snomKey(mac: string, callId: string): Promise<{ status: number; body: string; outcome: unknown }> {
  const logged = pbx.serve!.logged('snom record key').length;
  const res = await fetch(`http://127.0.0.1:${pbx.httpPort}/snom/record?mac=${mac}&callid=${callId}`);
  const body = await res.text();
  const line = await waitFor('the key press in the log', () => pbx.serve!.logged('snom record key')[logged], { pollMs: ENGINE_POLL_MS, context: serveSaid });
  return { status: res.status, body, outcome: line.outcome };
}

const serveSaid = () => `; serve said: ${JSON.stringify(pbx.serve?.lines.slice(-6))}`;

const newJournal = async (before: number, what: string, timeoutMs?: number) =>
  waitFor(what, () => {
    const all = pbx.journals();
    return all.length > before && all.at(-1);
  }, { timeoutMs, pollMs: ENGINE_POLL_MS, context: serveSaid });

test('an auto call (Anna → external) is journaled with parties, rule, duration, size and the audio\'s SHA-256', async () => {
  const before = pbx.journals().length;
  const c = await call('201', EXTERNAL, [{ audio: true }, { pause: 4000 }, { hangup: true }], null);
  await c.done();
  const j = await newJournal(before, 'the journal');
  assert.is(j.decision, 'auto');
  assert.is(j.rule, 'sales-external');
  assert.is(j.direction, 'outbound');
  assert.is(j.origin, 'external');
  assert.is(j.caller.number, '201');
  assert.is(j.callee.number, EXTERNAL);
  assert.ok(j.durationSeconds >= 3 && j.durationSeconds <= 5, `duration ${j.durationSeconds}`);
  const audio = readFileSync(audioPath(j));
  assert.is(j.sizeBytes, audio.length);
  assert.is(j.sha256, createHash('sha256').update(audio).digest('hex'));
  assert.ok(rms(audio) > 100, 'the recording holds the phone\'s audio, not silence');
});

function audioPath(j: Journal): string {
  const path = pbx.audioFiles().find((f) => f.endsWith(`/${j.audio}`));
  if (!path) throw new Error(`audio ${j.audio} not found`);
  return path;
}

/** RMS of 16-bit PCM after the 44-byte header. */
function rms(wav: Buffer): number {
  let sum = 0;
  const n = Math.floor((wav.length - 44) / 2);
  for (let i = 0; i < n; i++) sum += wav.readInt16LE(44 + 2 * i) ** 2;
  return Math.sqrt(sum / Math.max(1, n));
}

test('a rejected and an unanswered inbound call to an auto-recorded user leave no journal and no audio file', async () => {
  const before = pbx.journals().length;
  const files = pbx.audioFiles().length;
  const rejected = await call(EXTERNAL, '201', [{ hangup: true }], { reject: true });
  await rejected.done();
  const unanswered = await call(EXTERNAL, '202', [{ hangup: true }], { noAnswer: true }, 1500);
  await unanswered.done();
  await waitFor('serve to discard both header-only files', () => pbx.audioFiles().length === files, { timeoutMs: 10_000, pollMs: ENGINE_POLL_MS, context: serveSaid });
  await sleep(1500);
  assert.is(pbx.journals().length, before, 'no journal');
  assert.is(pbx.audioFiles().length, files, 'no audio file left behind');
});

test('SNOM record key: Carla\'s phone sends its own Call-ID from its address; another phone\'s MAC is refused', async () => {
  const before = pbx.journals().length;
  const since = ami.events.length;
  const c = await call('301', EXTERNAL, [{ audio: true }, { pause: 7000 }, { hangup: true }], null);
  const callId = await c.caller.waitCallId();
  await bridged(since);
  const wrong = await snomKey(BEN_MAC, callId);
  assert.is(wrong.outcome, 'no-call', 'Ben\'s key does not reach Carla\'s call');
  const on = await snomKey(CARLA_MAC, callId);
  assert.is(on.status, 200);
  assert.match(on.body, /<SnomIPPhoneText>/);
  assert.is(on.outcome, 'started');
  await ami.waitFor((m) => m.event === 'MixMonitorStart', 5000, 'MixMonitorStart', since);
  await sleep(2500);
  const off = await snomKey(CARLA_MAC, callId);
  assert.is(off.outcome, 'stopped');
  await ami.waitFor((m) => m.event === 'MixMonitorStop', 5000, 'MixMonitorStop', since);
  await c.done();
  const j = await newJournal(before, 'the manual journal');
  assert.is(j.decision, 'manual');
  assert.is(j.caller.number, '301');
  assert.ok(j.durationSeconds >= 1 && j.durationSeconds <= 4, `duration ${j.durationSeconds}`);
  assert.is(pbx.journals().length, before + 1, 'one recording for one key press pair');
});

async function login(): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(`http://127.0.0.1:${pbx.httpPort}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: 'carla', password: PASSWORD }) });
  assert.is(res.status, 200);
  return { cookie: res.headers.get('set-cookie')!.split(';')[0]!, csrf: ((await res.json()) as { csrf: string }).csrf };
}

async function webRecord(s: { cookie: string; csrf: string }, action: 'start' | 'stop'): Promise<number> {
  const calls = (await (await fetch(`http://127.0.0.1:${pbx.httpPort}/api/calls`, { headers: { cookie: s.cookie } })).json()) as { calls: { id: string }[] };
  if (calls.calls.length === 0) return 404;
  const res = await fetch(`http://127.0.0.1:${pbx.httpPort}/api/calls/${calls.calls[0]!.id}/record`, {
    method: 'POST',
    headers: { cookie: s.cookie, 'X-CSRF-Token': s.csrf, 'Content-Type': 'application/json' },
    body: JSON.stringify({ action }),
  });
  return res.status;
}

test('web client: Carla starts and stops the recording of her current call', async () => {
  const before = pbx.journals().length;
  const since = ami.events.length;
  const session = await login();
  const c = await call('301', EXTERNAL, [{ audio: true }, { pause: 6000 }, { hangup: true }], null);
  await bridged(since);
  assert.is(await webRecord(session, 'start'), 200);
  await sleep(2000);
  assert.is(await webRecord(session, 'stop'), 200);
  await c.done();
  const j = await newJournal(before, 'the journal');
  assert.is(j.decision, 'manual');
  assert.ok(j.durationSeconds >= 1 && j.durationSeconds <= 3, `duration ${j.durationSeconds}`);
});

test('DTMF feature code *1 (RFC 4733 from the phone) starts and stops Carla\'s recording', async () => {
  const before = pbx.journals().length;
  const since = ami.events.length;
  const c = await call('301', EXTERNAL, [{ media: 6500, keys: [{ at: 1000, keys: '*1' }, { at: 4000, keys: '*1' }] }, { pause: 6500 }, { hangup: true }], null);
  await c.done();
  assert.ok(ami.events.slice(since).some((m) => m.event === 'MixMonitorStart'), 'the key presses started a recording');
  const j = await newJournal(before, 'the journal');
  assert.is(j.decision, 'manual');
  assert.ok(j.durationSeconds >= 1 && j.durationSeconds <= 4, `duration ${j.durationSeconds}`);
});

test('SIP INFO Record: on/off (the phone\'s record button) starts and stops Carla\'s recording', async () => {
  const before = pbx.journals().length;
  const c = await call('301', EXTERNAL, [{ audio: true }, { pause: 1000 }, { info: 'on' }, { pause: 2500 }, { info: 'off' }, { pause: 800 }, { hangup: true }], null);
  await c.done();
  assert.match(c.caller.logText(), /INFO-ANSWER 200/);
  const j = await newJournal(before, 'the journal');
  assert.is(j.decision, 'manual');
  assert.ok(j.durationSeconds >= 1 && j.durationSeconds <= 4, `duration ${j.durationSeconds}`);
});

test('under deny (the IVR prefix 9) the key, the web button, DTMF and SIP INFO all record nothing', async () => {
  const before = pbx.journals().length;
  const since = ami.events.length;
  const session = await login();
  const c = await call('301', `9${EXTERNAL}`, [{ media: 6000, keys: [{ at: 2500, keys: '*1' }] }, { pause: 1500 }, { info: 'on' }, { pause: 4500 }, { hangup: true }], null);
  const callId = await c.caller.waitCallId();
  await bridged(since);
  const key = await snomKey(CARLA_MAC, callId);
  assert.is(key.outcome, 'not-allowed', 'the key is refused under deny');
  assert.ok([403, 404].includes(await webRecord(session, 'start')), 'the web API refuses');
  await c.done();
  assert.match(c.caller.logText(), /INFO-ANSWER 403/, 'Asterisk refuses the record button: the feature is not armed');
  await sleep(1500);
  assert.is(ami.events.slice(since).filter((m) => m.event === 'MixMonitorStart').length, 0, 'nothing started MixMonitor');
  assert.is(pbx.journals().length, before);
});

test('serve stopped (SIGTERM) and killed (SIGKILL) during recorded calls: each recording is journaled once, soon after serve is back', async () => {
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    const before = pbx.journals().length;
    const since = ami.events.length;
    const c = await call('201', EXTERNAL, [{ audio: true }, { pause: 4000 }, { hangup: true }], null);
    await bridged(since);
    await sleep(1000);
    if (signal === 'SIGTERM') await pbx.serve!.stop();
    else await pbx.serve!.kill();
    await c.done();
    await sleep(500);
    const back = Date.now();
    await pbx.startServe();
    const j = await newJournal(before, `the journal after ${signal}`);
    const seconds = (Date.now() - back) / 1000;
    assert.ok(seconds < 5, `${signal}: journaled ${seconds.toFixed(1)} s after serve came back`);
    assert.is(j.rule, 'sales-external', signal);
    assert.ok(j.durationSeconds >= 3, `${signal}: the whole call, ${j.durationSeconds} s`);
    await sleep(1000);
    assert.is(pbx.journals().length, before + 1, `${signal}: journaled once`);
  }
});

test('Asterisk restarted mid-call: serve reconnects, the recording that ended with it is journaled, and the next call is recorded', async () => {
  const before = pbx.journals().length;
  const since = ami.events.length;
  const c = await call('201', EXTERNAL, [{ audio: true }, { pause: 8000 }, { hangup: true }], null);
  await bridged(since);
  await sleep(2000);
  await pbx.ast.restart();
  await c.caller.kill();
  const j = await newJournal(before, 'the journal of the call cut by the restart', 30_000);
  assert.is(j.rule, 'sales-external');
  assert.ok(j.durationSeconds >= 1, `${j.durationSeconds} s`);
  await waitFor('serve back on AMI', () => pbx.serve!.logged('AMI resync done').length >= 2, { timeoutMs: 30_000, pollMs: ENGINE_POLL_MS, context: serveSaid });
  ami = await pbx.ast.ami();
  const again = pbx.journals().length;
  const next = await call('201', EXTERNAL, [{ audio: true }, { pause: 2500 }, { hangup: true }], null);
  await next.done();
  const k = await newJournal(again, 'the next journal');
  assert.is(k.rule, 'sales-external');
  assert.ok(existsSync(pbx.spool) && statSync(pbx.spool).isDirectory());
});

test.run();
