// Who answers is not who was dialed, on the real Asterisk: a ring group (Dial(A&B)), a queue with two agents,
// and a directed pickup. The routine decided for the group / queue / ringing number; serve decides again for
// the caller and whoever answered (README "Calls that move"). Anna (201) is sales: her external calls are
// recorded (sales-external); Carla (301) is support: manual only.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EXTERNAL, MovingCalls, numbers, sleep, summary } from './moving-calls-support.ts';

let m: MovingCalls;
test.before(async () => {
  m = await MovingCalls.start({
    extensions: `
[route]
; A ring group that is nobody's number in the rules.
exten => 650,1,Dial(PJSIP/301&PJSIP/201,20)
 same => n,Hangup()
; A queue of Carla and Anna.
exten => 660,1,Answer()
 same => n,Queue(q660,,,,30)
 same => n,Hangup()

[from-internal]
; Directed pickup: ** + the ringing extension.
exten => _**XXX,1,PickupChan(PJSIP/\${EXTEN:2})
 same => n,Hangup()
`,
    // Anna and Carla share a call and pickup group: *8 (features.conf's pickupexten) takes a call ringing at the other.
    pjsip: '[201](+)\ncall_group = 1\npickup_group = 1\n[301](+)\ncall_group = 1\npickup_group = 1\n',
    configs: {
      'queues.conf': `[general]\n[q660]\nstrategy = ringall\ntimeout = 15\nretry = 1\nringinuse = no\nmember => PJSIP/201\nmember => PJSIP/301\n`,
    },
  });
});
test.after(async () => m?.stop());
test.after.each(async () => m.hangUpAll());

/** The customer calls `number`, where Anna's and Carla's phones ring; only `who` answers. */
async function customerCallsBoth(number: string, who: '201' | '301') {
  await m.answer(who === '201' ? '301' : '201', [], undefined, { noAnswer: true });
  await m.answer(who, [{ media: 4000 }, { awaitBye: true }], 800);
  return m.dialIn(EXTERNAL, number, [{ media: 5000 }, { pause: 5000 }, { hangup: true }]);
}

/** The customer calls Carla, who lets it ring; Anna takes the call by dialing `code`. Answers the one new journal. */
async function annaPicksUp(code: string) {
  const before = m.pbx.journals().length;
  await m.answer('301', [], undefined, { noAnswer: true });
  const customer = await m.dialIn(EXTERNAL, '301', [{ media: 9000 }, { pause: 9000 }, { hangup: true }]);
  await m.channel(/^PJSIP\/301-/, 'Carla ringing');
  await sleep(1000);
  await m.dial('201', code, [{ media: 4000 }, { awaitBye: true }]);
  await customer.done();
  const [j] = await m.newJournals(before, 1);
  return j!;
}

test('ring group (Dial(PJSIP/301&PJSIP/201)), Anna answers: customer ↔ Anna is recorded by her rule (callee Anna, inbound)', async () => {
  const before = m.pbx.journals().length;
  const customer = await customerCallsBoth('650', '201');
  await customer.done();
  const [j] = await m.newJournals(before, 1);
  assert.equal(numbers(j!), ['0301234567', '201'], summary(j!));
  assert.is(j!.callee.number, '201');
  assert.is(j!.direction, 'inbound');
  assert.is(j!.rule, 'sales-external');
});

test('ring group, Carla answers: customer ↔ Carla is not recorded (manual)', async () => {
  const before = m.pbx.journals().length;
  const since = m.ami.events.length;
  const customer = await customerCallsBoth('650', '301');
  await m.waitEvent((e) => e.event === 'BridgeEnter' && (e.get('Channel') ?? '').startsWith('PJSIP/301'), 'Carla answering', since);
  await customer.done();
  await sleep(2000);
  assert.is(m.pbx.journals().length, before, JSON.stringify(m.pbx.journals().slice(before).map(summary)));
  assert.not.ok(m.ami.events.slice(since).some((e) => e.event === 'MixMonitorStart'), 'no MixMonitor anywhere');
});

test('queue with Anna and Carla: Anna answers → recorded; Carla answers → not', async () => {
  let before = m.pbx.journals().length;
  let customer = await customerCallsBoth('660', '201');
  await customer.done();
  const [j] = await m.newJournals(before, 1);
  assert.equal(numbers(j!), ['0301234567', '201'], summary(j!));
  assert.is(j!.rule, 'sales-external');
  await m.hangUpAll();
  before = m.pbx.journals().length;
  const since = m.ami.events.length;
  customer = await customerCallsBoth('660', '301');
  await m.waitEvent((e) => e.event === 'BridgeEnter' && (e.get('Channel') ?? '').startsWith('PJSIP/301'), 'Carla answering', since);
  await customer.done();
  assert.not.ok(m.ami.events.slice(since).some((e) => e.event === 'MixMonitorStart'), 'no MixMonitor anywhere');
  await sleep(2000);
  assert.is(m.pbx.journals().length, before, 'customer ↔ Carla is not recorded');
});

test('directed pickup: the customer calls Carla (not recorded), Anna picks up with **301: customer ↔ Anna is recorded', async () => {
  const j = await annaPicksUp('**301');
  assert.equal(numbers(j), ['0301234567', '201'], summary(j));
  assert.is(j.caller.number, EXTERNAL);
  assert.is(j.callee.number, '201');
  assert.is(j.rule, 'sales-external');
});

test('group pickup (*8): the customer calls Carla, Anna of the same pickup group takes it: customer ↔ Anna is recorded', async () => {
  const j = await annaPicksUp('*8');
  assert.equal(numbers(j), ['0301234567', '201'], summary(j));
  assert.is(j.callee.number, '201');
  assert.is(j.rule, 'sales-external');
});

test.run();
