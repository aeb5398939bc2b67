// Who answers is not who was dialed, parking, conferences — on the fake AMI (the engine proves the same in
// test/engine/moving-calls-answer.test.ts and moving-calls-forward-park-conference.test.ts). Fixture policy:
// Anna (201) auto everywhere (sales-auto), Ben (202) manual, Dora (204) nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Journal } from '../../runtime/journal.ts';
import { ANNA, BEN, DORA, RuntimeEnv, TRUNK, header, phone } from './runtime-env.ts';
import { waitFor } from '../support/wait-for.ts';

let env: RuntimeEnv;
test.before.each(async () => {
  env = await RuntimeEnv.create();
  await env.start({ moveSettleMs: 20 });
  await env.serve!.synced();
});
test.after.each(async () => env.dispose());

const mixMonitors = () => env.actions('MixMonitor');
const stops = () => env.actions('StopMixMonitor');
const numbers = (j: Journal) => j.participants.map((p) => p.number).sort();

test('ring group / queue / pickup: the routine decided for the group number (none), Anna answered: customer ↔ Anna is recorded on her phone', async () => {
  const call = env.plainCall(TRUNK('0306501'), phone(ANNA.ext), 'none', { __MITSCHNITT_CALLEE: '650' });
  await waitFor('a MixMonitor for customer ↔ Anna', () => mixMonitors().length === 1);
  assert.is(header(mixMonitors()[0]!.headers, 'Channel'), call.callee);
  await env.sync();
  env.fake.advance(3);
  env.fake.hangup(call.caller);
  const [j] = await env.journalsInOrder(1);
  assert.equal(numbers(j!), ['0306501', '201']);
  assert.is(j!.callee.number, '201');
  assert.is(j!.direction, 'inbound');
});

test('ring group / queue: Ben answered (manual): nothing starts', async () => {
  const call = env.plainCall(TRUNK('0306502'), phone(BEN.ext), 'none', { __MITSCHNITT_CALLEE: '650' });
  await env.quiet();
  env.fake.hangup(call.caller);
  await env.quiet();
  assert.is(mixMonitors().length, 0);
});

test('forward to an external number: the routine recorded the customer → Anna, but the line went to a mobile: that recording stops, nothing is kept', async () => {
  const call = env.recordedCall(TRUNK('0306503'), TRUNK('0170333444'), { callee: ANNA.ext, direction: 'inbound' });
  await waitFor('the routine\'s recording stopped', () => stops().length === 1);
  assert.is(header(stops()[0]!.headers, 'Channel'), call.caller);
  await env.sync();
  env.fake.advance(2);
  env.fake.hangup(call.caller);
  await env.quiet();
  assert.is((await env.journals()).length, 0, 'a header-only file is discarded, not journaled');
});

test('park and retrieve: part 1 (recorded by the routine on the customer\'s channel) ends when the customer is parked; Anna retrieves: part 2 on her phone, linked', async () => {
  const call = env.recordedCall(TRUNK('0306504'), phone(ANNA.ext), { direction: 'inbound' });
  await env.sync();
  env.fake.advance(2);
  env.fake.park(call.caller);
  await waitFor('part 1 stopped at parking', () => stops().length === 1);
  await env.sync();
  const { retriever } = env.fake.retrieve(call.caller, phone(ANNA.ext));
  await waitFor('part 2', () => mixMonitors().length === 1);
  assert.is(header(mixMonitors()[0]!.headers, 'Channel'), retriever);
  await env.sync();
  env.fake.advance(3);
  env.fake.hangup(retriever);
  const [first, second] = await env.journalsInOrder(2);
  assert.is(first!.durationSeconds, 2);
  assert.is(second!.durationSeconds, 3);
  assert.is(second!.previousPart, first!.id);
  assert.equal(numbers(second!), ['0306504', '201']);
});

test('ConfBridge: Anna\'s leg is recorded (the routine decided for her), Dora\'s is not; the recording goes on as members come and go and lists everyone heard', async () => {
  const file = env.audioPath(env.fake.nextUniqueid());
  const anna = env.fake.joinConference('800', phone(ANNA.ext), {
    __MITSCHNITT_DECISION: 'auto', __MITSCHNITT_RULE: 'sales-auto', __MITSCHNITT_CALLER: '201', __MITSCHNITT_CALLEE: '800',
    __MITSCHNITT_ORIGIN: 'external', __MITSCHNITT_DIRECTION: 'outbound', MITSCHNITT_FILE: file,
  }, { file });
  const dora = env.fake.joinConference('800', phone(DORA.ext), { __MITSCHNITT_DECISION: 'none', __MITSCHNITT_CALLER: '204', __MITSCHNITT_CALLEE: '800' });
  env.fake.advance(2);
  const ben = env.fake.joinConference('800', phone(BEN.ext), { __MITSCHNITT_DECISION: 'manual', __MITSCHNITT_CALLER: '202', __MITSCHNITT_CALLEE: '800' });
  env.fake.advance(2);
  env.fake.hangup(dora.channel);
  env.fake.advance(1);
  await env.quiet();
  assert.is(stops().length, 0, 'a conference is not re-judged');
  assert.is(mixMonitors().length, 0, 'nothing is started for the other members');
  env.fake.hangup(ben.channel);
  env.fake.hangup(anna.channel);
  const [j] = await env.journalsInOrder(1);
  assert.is(j!.durationSeconds, 5);
  assert.equal(numbers(j!), ['201', '202', '204'], 'the people heard, not the room number (that is the callee)');
  assert.is(j!.callee.number, '800');
});

test.run();
