// Transfers on the real Asterisk: the recording follows the conversation, part by part (README "Calls that move").
// Anna (201) and Ben (202) are sales: their EXTERNAL calls are recorded (rule sales-external); Carla (301) is
// support (manual only); internal calls are not recorded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ANNA, EXTERNAL, MovingCalls, numbers, sleep, summary, assertMovedFromAnnaToBen } from './moving-calls-support.ts';

let m: MovingCalls;
test.before(async () => {
  m = await MovingCalls.start({ dialOptions: 'tT' });
});
test.after(async () => m?.stop());
test.after.each(async () => m.hangUpAll());

test('blind transfer by AMI (BlindTransfer of Anna): part 1 Anna ↔ customer, part 2 customer ↔ Ben, linked; each lists only its own bridge', async () => {
  const before = m.pbx.journals().length;
  const ben = await m.answer('202', [{ audio: true }, { pause: 3000 }, { hangup: true }]);
  await m.annaCallsOut(2000);
  const r = await m.ami.action('BlindTransfer', { Channel: await m.channel(ANNA), Context: 'from-internal', Exten: '202' });
  assert.ok(r.ok, r.message.get('Message'));
  await ben.done();
  const [first, second] = await m.newJournals(before, 2);
  assertMovedFromAnnaToBen(first, second);
  assert.is(first!.rule, 'sales-external');
  assert.is(second!.decision, 'auto');
  assert.is(second!.rule, 'sales-external');
  assert.is(second!.caller.number, EXTERNAL);
  assert.is(second!.callee.number, '202');
  assert.is(second!.callee.userId, 'ben');
  assert.is(second!.direction, 'inbound', "from Ben's view: the customer was put through to him");
  assert.ok(second!.durationSeconds >= 2, summary(second!));
});

test('blind transfer from the phone (REFER by Anna to Ben): the same two linked parts', async () => {
  const before = m.pbx.journals().length;
  const ben = await m.answer('202', [{ audio: true }, { pause: 3000 }, { hangup: true }]);
  await m.annaCallsOut(2000, [{ audio: true }, { pause: 2500 }, { refer: '202' }]);
  await ben.done();
  const [first, second] = await m.newJournals(before, 2);
  assertMovedFromAnnaToBen(first, second);
  assert.is(second!.rule, 'sales-external');
});

test('attended transfer by AMI (Atxfer): the internal consultation Anna ↔ Ben is not recorded; part 2 customer ↔ Ben', async () => {
  const before = m.pbx.journals().length;
  const ben = await m.answer('202', [{ audio: true }, { pause: 6000 }, { hangup: true }]);
  await m.annaCallsOut(2000);
  const anna = await m.channel(ANNA);
  const r = await m.ami.action('Atxfer', { Channel: anna, Exten: '202', Context: 'from-internal' });
  assert.ok(r.ok, r.message.get('Message'));
  // Anna talks to Ben (the customer is on hold), then hangs up: the transfer completes.
  await m.together(ANNA, /^(PJSIP\/202-|Local\/202@from-internal-)/);
  await sleep(2500);
  await m.ami.action('Hangup', { Channel: anna });
  await ben.done();
  const [first, second] = await m.newJournals(before, 2);
  assert.equal(numbers(first!), ['0301234567', '201'], `part 1 ends when Anna leaves the customer: ${summary(first!)}`);
  assert.ok(!first!.participants.some((p) => p.number.includes('/')), 'parties, never channel names');
  assert.equal(numbers(second!), ['0301234567', '202'], summary(second!));
  assert.is(second!.previousPart, first!.id);
  assert.is(second!.callee.number, '202');
});

test('attended transfer from the phone (Anna presses *2 202, talks to Ben, hangs up): consultation not recorded; part 2 customer ↔ Ben', async () => {
  const before = m.pbx.journals().length;
  const ben = await m.answer('202', [{ media: 9000 }, { pause: 9000 }, { hangup: true }]);
  // *2 is features.conf's atxfer; Dial's T option lets the caller transfer. Anna hangs up after the consultation.
  await m.dial('201', EXTERNAL, [{ media: 11000, keys: [{ at: 2500, keys: '*2202' }] }, { pause: 10000 }, { hangup: true }]);
  await ben.done();
  const [first, second] = await m.newJournals(before, 2);
  assertMovedFromAnnaToBen(first, second);
  assert.is(second!.direction, 'inbound');
});

test('blind transfer to a colleague no rule records (Carla, support): part 1 ends, nothing new starts', async () => {
  const before = m.pbx.journals().length;
  const carla = await m.answer('301', [{ audio: true }, { pause: 3000 }, { hangup: true }]);
  await m.annaCallsOut(2000);
  await m.ami.action('BlindTransfer', { Channel: await m.channel(ANNA), Context: 'from-internal', Exten: '301' });
  await carla.done();
  const [only] = await m.newJournals(before, 1);
  assert.equal(numbers(only!), ['0301234567', '201'], summary(only!));
  assert.ok(!m.pbx.journals().some((j) => j.participants.some((p) => p.number === '301')), 'customer ↔ Carla is not recorded');
});

test.run();
