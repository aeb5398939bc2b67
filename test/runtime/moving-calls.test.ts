// Calls that move, on the fake AMI (the same movements test/engine/moving-calls-*.test.ts proves on Asterisk):
// the recording follows the conversation part by part. Fixture policy: Anna (201) auto in every cell (rule
// sales-auto), Ben (202) and Carl (203) manual, Dora (204) nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Journal } from '../../runtime/journal.ts';
import { verifyChain } from '../../runtime/journal-verify.ts';
import { ANNA, BEN, DORA, RuntimeEnv, TRUNK, header, phone } from './runtime-env.ts';
import { waitFor } from '../support/wait-for.ts';

let env: RuntimeEnv;
test.before.each(async () => {
  env = await RuntimeEnv.create();
  await env.start({ moveSettleMs: 20 });
  await env.serve!.synced();
});
test.after.each(async () => {
  await env.dispose();
});

const mixMonitors = () => env.actions('MixMonitor');
const stops = () => env.actions('StopMixMonitor');
const numbers = (j: Journal) => j.participants.map((p) => p.number).sort();

test('blind transfer to a colleague the rules do not record (Ben, manual): part 1 lists only Anna and the customer; nothing new starts', async () => {
  const call = env.recordedCall(phone(ANNA.ext), TRUNK('0308888'));
  env.fake.advance(3);
  const { target } = env.fake.blindTransfer(call.caller, phone(BEN.ext));
  await env.quiet();
  env.fake.advance(4);
  env.fake.hangup(target);
  const [only] = await env.journalsInOrder(1);
  await env.quiet();
  assert.is(mixMonitors().length, 0, 'customer ↔ Ben is manual: nothing starts by itself');
  assert.is(only!.durationSeconds, 3);
  assert.equal(numbers(only!), ['0308888', '201'], 'Ben was never in part 1');
});

test('blind transfer of an unrecorded call to a recorded colleague: the new conversation customer ↔ Anna is recorded on Anna\'s phone', async () => {
  const call = env.plainCall(TRUNK('0305555'), phone(DORA.ext), 'none');
  env.fake.advance(2);
  const { target } = env.fake.blindTransfer(call.callee, phone(ANNA.ext));
  await waitFor('a MixMonitor for the new conversation', () => mixMonitors().length === 1);
  assert.is(header(mixMonitors()[0]!.headers, 'Channel'), target, 'on the phone of the member whose rule decided');
  await env.sync();
  env.fake.advance(5);
  env.fake.hangup(target);
  const [j] = await env.journalsInOrder(1);
  assert.is(j!.decision, 'auto');
  assert.is(j!.rule, 'sales-auto');
  assert.is(j!.caller.number, '0305555');
  assert.is(j!.callee.number, '201');
  assert.is(j!.direction, 'inbound');
  assert.equal(numbers(j!), ['0305555', '201']);
  assert.is(j!.previousPart, undefined, 'nothing was recorded before');
  assert.ok(/^[0-9]+\.[0-9]+-[0-9]{13}$/.test(j!.id), `runtime names carry the start in ms: ${j!.id}`);
});

test('attended transfer: the consultation is its own conversation (Anna ↔ Ben, auto for Anna) and its own part; the merged call customer ↔ Ben is not recorded', async () => {
  const call = env.recordedCall(phone(ANNA.ext), TRUNK('0307777'));
  env.fake.advance(2);
  const consult = env.fake.startAttendedTransfer(call.caller, phone(BEN.ext));
  // Anna left the customer: part 1 ends (StopMixMonitor) and the consultation gets a part of its own on Anna.
  await waitFor('part 1 stopped', () => stops().length === 1);
  await waitFor('the consultation recorded', () => mixMonitors().length === 1);
  assert.is(header(mixMonitors()[0]!.headers, 'Channel'), call.caller);
  await env.sync();
  env.fake.advance(1);
  env.fake.completeAttendedTransfer(call.caller, call.bridge!);
  await env.quiet();
  env.fake.advance(5);
  env.fake.hangup(consult.transferee);
  const [first, second] = await env.journalsInOrder(2);
  await env.quiet();
  assert.is(mixMonitors().length, 1, 'customer ↔ Ben (manual) is not recorded');
  assert.equal(numbers(first!), ['0307777', '201']);
  assert.is(first!.durationSeconds, 2);
  assert.equal(numbers(second!), ['201', '202']);
  assert.is(second!.previousPart, first!.id);
  assert.is(second!.origin, 'internal');
  assert.is(second!.durationSeconds, 1);
  assert.ok((await verifyChain(env.spool)).ok);
});

test('Redirect of the recording leg (Anna redirected to Dora): the MixMonitor that stays on Anna is stopped; Anna ↔ Dora is decided again', async () => {
  // Dora has no rule, but Anna's own rule records her outbound internal calls: the new conversation is a new part.
  const call = env.recordedCall(phone(ANNA.ext), TRUNK('0301111'));
  env.fake.advance(2);
  const { target } = env.fake.redirect(call.caller, phone(DORA.ext));
  await waitFor('part 1 stopped', () => stops().length === 1);
  await waitFor('part 2 started', () => mixMonitors().length === 1);
  await env.sync();
  env.fake.advance(3);
  env.fake.hangup(target);
  const [first, second] = await env.journalsInOrder(2);
  assert.equal(numbers(first!), ['0301111', '201']);
  assert.is(first!.callee.number, '0301111');
  assert.equal(numbers(second!), ['201', '204']);
  assert.is(second!.caller.number, '201');
  assert.is(second!.callee.number, '204');
  assert.is(second!.origin, 'internal');
  assert.is(second!.previousPart, first!.id);
});

test('Redirect of the other leg (the customer redirected to Ben, as operator panels transfer): part 1 ends with Anna, customer ↔ Ben is decided again (manual: not recorded)', async () => {
  const call = env.recordedCall(phone(ANNA.ext), TRUNK('0302222'));
  env.fake.advance(2);
  const { target } = env.fake.redirect(call.callee, phone(BEN.ext));
  await env.quiet();
  env.fake.advance(3);
  env.fake.hangup(target);
  const [only] = await env.journalsInOrder(1);
  assert.is(only!.durationSeconds, 2);
  assert.equal(numbers(only!), ['0302222', '201']);
  assert.is(mixMonitors().length, 0);
});

test('a deny that travels with the call: no new part after a transfer, even to a recorded colleague', async () => {
  const call = env.plainCall(TRUNK('0301212'), phone(DORA.ext), 'none', { __MDC_MON_MODE: 'deny' });
  env.fake.advance(2);
  const { target } = env.fake.blindTransfer(call.callee, phone(ANNA.ext));
  await env.quiet();
  env.fake.advance(2);
  env.fake.hangup(target);
  await env.quiet();
  assert.is(mixMonitors().length, 0);
  assert.is((await env.journals()).length, 0);
});

test.run();
