import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Journal } from '../../runtime/journal.ts';
import { ANNA, BEN, CARL, DORA, RuntimeEnv, TRUNK, get, phone } from './runtime-env.ts';
import { waitFor } from '../support/wait-for.ts';

let env: RuntimeEnv;
test.before.each(async () => {
  env = await RuntimeEnv.create();
  await env.start();
  await env.serve!.synced();
});
test.after.each(async () => {
  await env.dispose();
});

const key = (mac: string, callId: string) => get(`${env.base}/snom/record?mac=${encodeURIComponent(mac)}&callid=${encodeURIComponent(callId)}`);
const xml = (text: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><SnomIPPhoneText><Title>Mitschnitt</Title><Text>${text}</Text></SnomIPPhoneText>`;
const actions = (name: string) => env.fake.actions.filter((a) => a.name === name.toLowerCase());
const header = (h: [string, string][], k: string) => h.find(([n]) => n === k)?.[1];

test('SNOM key on a manual call: first press starts a MixMonitor named per contract, second press stops it; journal says manual', async () => {
  const benPhone = phone(BEN.ext, 'ben-call-1@10.0.0.2');
  const call = env.plainCall(benPhone, TRUNK('0304444'), 'manual');
  await env.sync();
  const start = await key(BEN.mac, 'ben-call-1@10.0.0.2');
  assert.is(start.status, 200);
  assert.is(start.type, 'text/xml; charset=utf-8');
  assert.is(start.body, xml('Aufnahme gestartet'));
  const [mm] = actions('MixMonitor');
  assert.ok(mm, 'MixMonitor action sent');
  const file = header(mm!.headers, 'File')!;
  assert.is(header(mm!.headers, 'Channel'), call.caller);
  assert.is(header(mm!.headers, 'Options'), 'bi(MITSCHNITT_MIXMON_ID)');
  const uniqueid = env.serve!.tracker.channels.get(call.caller)!.uniqueid;
  assert.match(file, new RegExp(`^${env.spool}/\\d{4}/\\d{2}/\\d{2}/${uniqueid.replace('.', '\\.')}-\\d+\\.wav$`));
  const setvar = actions('Setvar').find((a) => header(a.headers, 'Variable') === 'MITSCHNITT_FILE');
  assert.is(header(setvar!.headers, 'Value'), file);
  env.fake.advance(2);
  const stop = await key(BEN.mac, 'ben-call-1@10.0.0.2');
  assert.is(stop.body, xml('Aufnahme beendet'));
  const [st] = actions('StopMixMonitor');
  assert.is(header(st!.headers, 'Channel'), call.caller);
  assert.ok(header(st!.headers, 'MixMonitorID')?.startsWith('0x'), 'stops exactly the MixMonitor it started');
  const [journalPath] = await env.waitForJournals(1);
  const j = await env.readJson<Journal>(journalPath!);
  assert.is(j.decision, 'manual');
  assert.is(j.rule, 'support-manual');
  assert.is(j.durationSeconds, 2);
  assert.equal(j.caller, { number: '202', name: 'Ben Brandt', userId: 'ben' });
  // The call goes on: a third press records again, into a new file.
  env.fake.advance(1);
  assert.is((await key(BEN.mac, 'ben-call-1@10.0.0.2')).body, xml('Aufnahme gestartet'));
  assert.is(actions('MixMonitor').length, 2);
  assert.is.not(header(actions('MixMonitor')[1]!.headers, 'File'), file);
});

test('a rule\'s manual right belongs to its role\'s members: the other party of the call may not record it', async () => {
  // Ben (support, manual) calls Dora (no rule): the dialplan decides manual on Ben's side, and the inherited
  // MITSCHNITT_MANUAL=1 reaches Dora's channel too; only Ben may start the recording.
  env.plainCall(phone(BEN.ext, 'ben-to-dora@x'), phone(DORA.ext, 'dora-from-ben@x'), 'manual');
  await env.sync();
  assert.is((await key(DORA.mac, 'dora-from-ben@x')).body, xml('Aufnahme nicht erlaubt'), 'the non-member is refused');
  assert.is(actions('MixMonitor').length, 0);
  const control = env.serve!.control;
  const [doraCall] = control.activeCalls('dora');
  assert.ok(doraCall, 'Dora sees her call');
  assert.is(doraCall!.manualAllowed, false);
  const refused = await control.startRecording('dora', doraCall!.id);
  assert.is(refused.ok, false);
  assert.is(control.activeCalls('ben')[0]!.manualAllowed, true);
  assert.is((await key(BEN.mac, 'ben-to-dora@x')).body, xml('Aufnahme gestartet'), 'the member may');
  assert.is(actions('MixMonitor').length, 1);
  assert.is((await key(DORA.mac, 'dora-from-ben@x')).body, xml('Aufnahme nicht erlaubt'), 'nor may the non-member stop it');
  assert.is(actions('StopMixMonitor').length, 0);
});

test('a record-key user\'s answered call has its Call-ID asked at once: the press needs no Getvar', async () => {
  const call = env.plainCall(phone(BEN.ext, 'ben-early@10.0.0.2'), TRUNK('0304445'), 'manual');
  await env.sync();
  await waitFor('the Call-ID asked', () => actions('Getvar').some((a) => header(a.headers, 'Channel') === call.caller && header(a.headers, 'Variable') === 'CHANNEL(pjsip,call-id)'));
  const getvars = actions('Getvar').length;
  assert.is((await key(BEN.mac, 'ben-early@10.0.0.2')).body, xml('Aufnahme gestartet'));
  assert.is(actions('Getvar').length, getvars, 'no Getvar on the press');
});

test('SNOM key refuses: unknown MAC, wrong source address, no rule, deny, a rule\'s auto recording, and answers "no call" for a stale Call-ID', async () => {
  const none = env.plainCall(phone(BEN.ext, 'ben-none@x'), TRUNK('0305555'), 'none');
  await env.sync();
  assert.is((await key(BEN.mac, 'ben-none@x')).body, xml('Aufnahme nicht erlaubt'), 'no rule');
  env.fake.hangup(none.caller);
  env.plainCall(phone(BEN.ext, 'ben-deny@x'), TRUNK('0305556'), 'deny', { __MDC_MON_MODE: 'deny' });
  await env.sync();
  assert.is((await key(BEN.mac, 'ben-deny@x')).body, xml('Aufnahme nicht erlaubt'), 'deny');
  env.plainCall(phone(BEN.ext, 'ben-ok@x'), TRUNK('0305557'), 'manual');
  await env.sync();
  assert.is((await key('00:04:13:ff:ff:ff', 'ben-ok@x')).body, xml('Aufnahme nicht erlaubt'), 'unknown MAC');
  assert.is((await key(BEN.mac.replace('02', '03'), 'ben-ok@x')).body, xml('Aufnahme nicht erlaubt'), 'another phone\'s MAC');
  env.plainCall(phone(CARL.ext, 'carl-ok@x'), TRUNK('0305558'), 'manual');
  await env.sync();
  assert.is((await key(CARL.mac, 'carl-ok@x')).body, xml('Aufnahme nicht erlaubt'), 'request not from the phone\'s IP');
  const askedCarl = () => actions('Getvar').filter((a) => header(a.headers, 'Channel')?.startsWith('PJSIP/203-')).length;
  const carlBefore = askedCarl();
  assert.is((await key(BEN.mac, 'carl-ok@x')).body, xml('Kein Gespräch gefunden'), 'another user\'s call is not found');
  assert.is(askedCarl(), carlBefore, 'a press asks only the asking user\'s own channels for their Call-ID');
  const getvars = actions('Getvar').length;
  for (let i = 0; i < 20; i++) assert.is((await key(BEN.mac, `made-up-${i}@x`)).body, xml('Kein Gespräch gefunden'));
  assert.is(actions('Getvar').length, getvars, 'made-up Call-IDs cost no Getvar once the channels are known');
  const auto = env.recordedCall(phone(ANNA.ext, 'anna-auto@x'), TRUNK('0305559'));
  await env.sync();
  assert.is((await key(ANNA.mac, 'anna-auto@x')).body, xml('Aufnahme nicht erlaubt'), 'an auto recording cannot be stopped');
  assert.ok(env.serve!.tracker.recordings.has(auto.file), 'auto recording still running');
  assert.is((await key(BEN.mac, 'no-such-call@x')).body, xml('Kein Gespräch gefunden'));
  assert.is((await key('not-a-mac', 'x')).body, xml('Aufnahme nicht erlaubt'));
  assert.is(actions('MixMonitor').length, 0);
  assert.is(actions('StopMixMonitor').length, 0);
  const refusals = env.logged('snom record key').filter((l) => l.outcome === 'not-allowed');
  assert.ok(refusals.some((l) => /address/.test(String(l.why))), 'wrong IP is logged with its reason');
});

test('CallControl for the web: active calls, start, pause/resume with MixMonitorMute, stop; other users and auto recordings are refused', async () => {
  const control = env.serve!.control;
  const call = env.plainCall(phone(BEN.ext), { endpoint: 'PJSIP/203', number: '203' }, 'manual', { __MITSCHNITT_ORIGIN: 'internal' });
  await env.sync();
  const [ac] = control.activeCalls('ben');
  assert.ok(ac);
  assert.is(ac!.channel, call.caller);
  assert.equal(ac!.peer, { number: '203', name: 'Carl Clausen' });
  assert.is(ac!.direction, 'outbound');
  assert.is(ac!.recording, false);
  assert.is(ac!.manualAllowed, true);
  const carls = control.activeCalls('carl');
  assert.is(carls[0]?.direction, 'inbound');
  assert.equal(await control.startRecording('anna', ac!.id), { ok: false, reason: 'no-call', message: 'no such active call of this user' });
  const changes: string[] = [];
  control.onChange((u) => changes.push(u));
  assert.equal(await control.startRecording('ben', ac!.id), { ok: true, recording: true, paused: false });
  assert.ok(changes.includes('ben') && changes.includes('carl'), 'both parties are told');
  assert.equal(await control.setPaused('ben', ac!.id, true), { ok: true, recording: true, paused: true });
  const mute = actions('MixMonitorMute').at(-1)!;
  assert.is(header(mute.headers, 'State'), '1');
  assert.is(header(mute.headers, 'Direction'), 'both');
  assert.is(control.activeCalls('ben')[0]!.paused, true);
  env.fake.advance(1);
  assert.equal(await control.setPaused('carl', carls[0]!.id, false), { ok: true, recording: true, paused: false }, 'the other party may resume');
  env.fake.advance(1);
  const journals: string[] = [];
  control.onJournal((p) => journals.push(p));
  assert.equal(await control.stopRecording('ben', ac!.id), { ok: true, recording: false, paused: false });
  await waitFor('onJournal', () => journals.length === 1);
  const j = await env.readJson<Journal>(journals[0]!);
  assert.is(j.durationSeconds, 2, 'paused time is silence, still part of the file');
  assert.is(j.origin, 'internal');

  const auto = env.recordedCall(phone(ANNA.ext), TRUNK('030777'));
  await env.sync();
  const annaCall = control.activeCalls('anna')[0]!;
  assert.is(annaCall.recording, true);
  assert.is(annaCall.manualAllowed, false);
  const refused = await control.stopRecording('anna', annaCall.id);
  assert.is(refused.ok, false);
  assert.is(!refused.ok && refused.reason, 'not-allowed');
  assert.ok(env.serve!.tracker.recordings.has(auto.file));
});

test('a manual recording survives a runtime restart: picked up at the resync, the key still stops it, journal keeps its start', async () => {
  env.plainCall(phone(BEN.ext, 'ben-restart@x'), TRUNK('0307070'), 'manual');
  await env.sync();
  assert.is((await key(BEN.mac, 'ben-restart@x')).body, xml('Aufnahme gestartet'));
  env.fake.advance(2);
  await env.stopServe();
  env.fake.advance(1);
  await env.start();
  await env.serve!.synced();
  assert.is((await key(BEN.mac, 'ben-restart@x')).body, xml('Aufnahme beendet'));
  const [path] = await env.waitForJournals(1);
  const j = await env.readJson<Journal>(path!);
  assert.is(j.decision, 'manual');
  assert.is(j.durationSeconds, 3);
  assert.ok(j.participants.some((p) => p.number === '0307070'));
  assert.not.ok(j.recovered);
});

test('wav49: the SNOM key records into <uniqueid>-<epoch>.WAV and the journal takes the duration from the GSM header', async () => {
  await env.dispose();
  env = await RuntimeEnv.create({ format: 'wav49' });
  await env.start();
  await env.serve!.synced();
  env.plainCall(phone(BEN.ext, 'ben-gsm@x'), TRUNK('0308080'), 'manual');
  await env.sync();
  assert.is((await key(BEN.mac, 'ben-gsm@x')).body, xml('Aufnahme gestartet'));
  assert.match(header(actions('MixMonitor')[0]!.headers, 'File')!, /\/\d+\.\d+-\d+\.WAV$/);
  env.fake.advance(3);
  assert.is((await key(BEN.mac, 'ben-gsm@x')).body, xml('Aufnahme beendet'));
  const [path] = await env.waitForJournals(1);
  const j = await env.readJson<Journal>(path!);
  assert.match(j.audio, /\.WAV$/);
  assert.is(j.durationSeconds, 3);
  assert.is(j.sizeBytes, 60 + 3 * 1625);
});

test('the DTMF record feature (UserEvent MitschnittRecordKey) toggles like the SNOM key', async () => {
  const call = env.plainCall(phone(BEN.ext), TRUNK('0306666'), 'manual');
  await env.sync();
  env.fake.userEvent(call.caller, 'MitschnittRecordKey');
  await waitFor('MixMonitor action', () => actions('MixMonitor').length === 1);
  assert.is(header(actions('MixMonitor')[0]!.headers, 'Channel'), call.caller);
});

test.run();
