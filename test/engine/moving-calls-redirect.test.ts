// AMI Redirect on the real Asterisk, as operator panels use it: of the recording leg and of the other leg.
// Anna (201) and Ben (202) are sales (external calls recorded by sales-external); internal calls are not recorded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ANNA, CARRIER, EXTERNAL, MovingCalls, numbers, summary, assertMovedFromAnnaToBen } from './moving-calls-support.ts';

let m: MovingCalls;
test.before(async () => {
  m = await MovingCalls.start();
});
test.after(async () => m?.stop());
test.after.each(async () => m.hangUpAll());

const BEN = /^PJSIP\/202-/;

test('Redirect of the recording leg (Anna to Ben): the MixMonitor staying on Anna is stopped as soon as she talks to Ben; Anna ↔ Ben (internal) is not recorded', async () => {
  const before = m.pbx.journals().length;
  const ben = await m.answer('202', [{ audio: true }, { pause: 4000 }, { hangup: true }]);
  await m.annaCallsOut(3000);
  const r = await m.ami.action('Redirect', { Channel: await m.channel(ANNA), Context: 'from-internal', Exten: '202', Priority: '1' });
  assert.ok(r.ok, r.message.get('Message'));
  await m.together(ANNA, BEN);
  const bridgedAt = Date.now();
  const stop = await m.waitEvent((e) => e.event === 'MixMonitorStop' && ANNA.test(e.get('Channel') ?? ''), 'StopMixMonitor on Anna');
  assert.ok(Date.now() - bridgedAt < 2000, 'stopped within moments of the new conversation');
  assert.ok(stop);
  await ben.done();
  const [only] = await m.newJournals(before, 1);
  assert.equal(numbers(only!), ['0301234567', '201'], summary(only!));
  assert.is(only!.callee.number, EXTERNAL);
  assert.is(only!.rule, 'sales-external');
  assert.ok(only!.durationSeconds >= 2 && only!.durationSeconds < 5, `only the external part: ${summary(only!)}`);
});

test('Redirect of the other leg (the customer to Ben, as an operator panel transfers): part 1 Anna ↔ customer, part 2 customer ↔ Ben, linked', async () => {
  const before = m.pbx.journals().length;
  const ben = await m.answer('202', [{ audio: true }, { pause: 3000 }, { hangup: true }]);
  await m.annaCallsOut(2500);
  const r = await m.ami.action('Redirect', { Channel: await m.channel(CARRIER), Context: 'from-internal', Exten: '202', Priority: '1' });
  assert.ok(r.ok, r.message.get('Message'));
  await ben.done();
  const [first, second] = await m.newJournals(before, 2);
  assertMovedFromAnnaToBen(first, second);
  assert.is(second!.rule, 'sales-external');
  assert.is(second!.caller.number, EXTERNAL);
  assert.is(second!.direction, 'inbound');
  assert.ok(second!.durationSeconds >= 2, summary(second!));
});

test.run();
