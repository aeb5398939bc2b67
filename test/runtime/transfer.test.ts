import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Journal } from '../../runtime/journal.ts';
import { verifyChain } from '../../runtime/journal-verify.ts';
import { ANNA, BEN, RuntimeEnv, TRUNK, phone, waitFor } from './runtime-env.ts';

let env: RuntimeEnv;
test.before.each(async () => {
  env = await RuntimeEnv.create();
  await env.start();
  await env.serve!.synced();
});
test.after.each(async () => {
  await env.dispose();
});

const mixMonitors = () => env.fake.actions.filter((a) => a.name === 'mixmonitor');
const header = (h: [string, string][], k: string) => h.find(([n]) => n === k)?.[1];

async function parts(): Promise<Journal[]> {
  const all = await Promise.all((await env.journals()).map((p) => env.readJson<Journal>(p)));
  return all.sort((a, b) => (a.previousPart ? 1 : 0) - (b.previousPart ? 1 : 0));
}

test('blind transfer away from the recording channel: part 1 ends, part 2 records the transferee with the target, linked by previousPart', async () => {
  // Anna (auto rule) calls a customer; the recording runs on Anna's channel. She blind-transfers the customer to Ben.
  const call = env.recordedCall(phone(ANNA.ext), TRUNK('0308888'));
  env.fake.advance(3);
  const { transferee, target } = env.fake.blindTransfer(call.caller, phone(BEN.ext));
  await waitFor('continuation MixMonitor', () => mixMonitors().length === 1);
  assert.is(header(mixMonitors()[0]!.headers, 'Channel'), transferee);
  await env.sync();
  env.fake.advance(4);
  env.fake.hangup(target);
  await env.waitForJournals(2);
  const [first, second] = await parts();
  assert.is(first!.durationSeconds, 3);
  assert.is(first!.channel, call.caller);
  assert.is(second!.previousPart, first!.id);
  assert.is(second!.durationSeconds, 4);
  assert.is(second!.channel, transferee);
  assert.is(second!.decision, 'auto');
  assert.is(second!.rule, 'sales-auto');
  assert.equal(second!.participants.map((p) => p.number).sort(), ['0308888', '201', '202']);
  assert.ok((await verifyChain(env.spool)).ok);
});

test('attended transfer (atxfer, transcript 15): the consultation is in part 1, the merged call is recorded as part 2', async () => {
  const call = env.recordedCall(phone(ANNA.ext), TRUNK('0307777'));
  env.fake.advance(2);
  const consult = env.fake.startAttendedTransfer(call.caller, phone(BEN.ext));
  env.fake.advance(1); // Anna talks to Ben; the customer hears music on hold
  env.fake.completeAttendedTransfer(call.caller, call.bridge!);
  await waitFor('continuation MixMonitor', () => mixMonitors().length === 1);
  assert.is(header(mixMonitors()[0]!.headers, 'Channel'), consult.transferee);
  await env.sync();
  env.fake.advance(5);
  env.fake.hangup(consult.transferee);
  await env.waitForJournals(2);
  const [first, second] = await parts();
  assert.is(first!.durationSeconds, 3);
  assert.ok(first!.participants.some((p) => p.number === '202'), 'Ben joined the recorded consultation');
  assert.is(second!.previousPart, first!.id);
  assert.is(second!.durationSeconds, 5);
});

test('attended transfer from a SIP phone (two transferer channels, both recorded): exactly one continuation', async () => {
  const call = env.recordedCall(phone(ANNA.ext), TRUNK('0306060'));
  env.fake.advance(2);
  // Anna's consultation call to Ben is a new call of its own, recorded by her rule too.
  const uniqueid = env.fake.nextUniqueid();
  const consultFile = env.audioPath(uniqueid);
  const vars = { __MITSCHNITT_DECISION: 'auto', __MITSCHNITT_RULE: 'sales-auto', __MITSCHNITT_CALLER: '201', __MITSCHNITT_CALLEE: '202', __MITSCHNITT_ORIGIN: 'internal', __MITSCHNITT_DIRECTION: 'outbound', MITSCHNITT_FILE: consultFile };
  const { transferee, target } = env.fake.phoneAttendedTransfer(call.caller, { from: phone(ANNA.ext), to: phone(BEN.ext), vars, record: { file: consultFile } });
  await waitFor('continuation MixMonitor', () => mixMonitors().length === 1);
  await env.sync();
  await new Promise((r) => setTimeout(r, 50)); // room for a wrong second continuation to show up
  assert.is(mixMonitors().length, 1);
  assert.is(header(mixMonitors()[0]!.headers, 'Channel'), transferee);
  env.fake.advance(2);
  env.fake.hangup(target);
  // The consultation was joined at once in this scenario: its recording holds no audio and is discarded.
  const all = await Promise.all((await env.waitForJournals(2)).map((p) => env.readJson<Journal>(p)));
  await waitFor('consultation discarded', () => env.logged('empty recording discarded').length === 1);
  const cont = all.filter((j) => j.previousPart);
  assert.is(cont.length, 1);
  assert.is(cont[0]!.channel, transferee);
  assert.equal(cont[0]!.participants.map((p) => p.number).sort(), ['0306060', '201', '202']);
});

test('transfer where the recording channel stays (the customer is recorded and gets transferred): one recording, nothing new started', async () => {
  // An inbound call recorded on the customer's trunk channel; Ben takes it and blind-transfers the customer to Anna.
  const call = env.recordedCall(TRUNK('0306543'), phone(BEN.ext), { direction: 'inbound' });
  env.fake.advance(2);
  const { target } = env.fake.blindTransfer(call.callee, phone(ANNA.ext));
  env.fake.advance(2);
  env.fake.hangup(target);
  const [path] = await env.waitForJournals(1);
  const j = await env.readJson<Journal>(path!);
  assert.is(mixMonitors().length, 0);
  assert.is(j.durationSeconds, 4);
  assert.equal(j.participants.map((p) => p.number).sort(), ['0306543', '201', '202']);
});

test('no continuation when the transfer target\'s call is denied', async () => {
  const call = env.recordedCall(phone(ANNA.ext), TRUNK('0301212'));
  env.fake.advance(2);
  // The target phone's channel carries deny (e.g. MDC_MON_MODE=deny set for Ben's extension).
  env.fake.setVarOnNextChannels('__MDC_MON_MODE', 'deny');
  const { target } = env.fake.blindTransfer(call.caller, phone(BEN.ext));
  await env.waitForJournals(1);
  await env.sync();
  env.fake.hangup(target);
  await waitFor('log', () => env.logged('transfer: not continuing the recording, the new call denies recording').length === 1);
  assert.is(mixMonitors().length, 0);
});

test.run();
