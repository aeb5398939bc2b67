// Call forward, park and retrieve, and a conference on the real Asterisk (README "Calls that move").
// Anna (201) and Ben (202) are sales (external calls recorded); Carla (301) and David (302) support (manual).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EXTERNAL, MovingCalls, numbers, sleep, summary, assertMovedFromAnnaToBen } from './moving-calls-support.ts';

const MOBILE = '0170333444';
let m: MovingCalls;
test.before(async () => {
  m = await MovingCalls.start({
    extensions: `
[route]
; David's line is forwarded to Anna, Ben's to his mobile (as a follow-me or a CF setting would do).
exten => 302,1,Dial(Local/201@from-internal,20)
 same => n,Hangup()
exten => 202,1,Dial(Local/${MOBILE}@from-internal,20)
 same => n,Hangup()
exten => 800,1,ConfBridge(800,mt_bridge,mt_user)
 same => n,Hangup()

[from-internal]
exten => 701,1,ParkedCall(default,701)
 same => n,Hangup()
`,
    configs: {
      'res_parking.conf': '[general]\n[default]\nparkext => 700\nparkpos => 701-720\ncontext => parkedcalls\nparkingtime => 120\n',
      'confbridge.conf': '[mt_bridge]\ntype = bridge\n[mt_user]\ntype = user\nquiet = yes\nannounce_user_count = no\n',
    },
  });
});
test.after(async () => m?.stop());
test.after.each(async () => m.hangUpAll());

test('call forward to an internal number: the customer calls David (manual), forwarded to Anna: customer ↔ Anna is recorded (the forwarded leg runs the routine for the new callee)', async () => {
  const before = m.pbx.journals().length;
  await m.answer('201', [{ media: 4000 }, { awaitBye: true }], 500);
  const customer = await m.dialIn(EXTERNAL, '302', [{ media: 6000 }, { pause: 6000 }, { hangup: true }]);
  await customer.done();
  const [j] = await m.newJournals(before, 1);
  assert.equal(numbers(j!), ['0301234567', '201'], summary(j!));
  assert.is(j!.callee.number, '201');
  assert.is(j!.rule, 'sales-external');
});

test('call forward to an external number: the customer calls Ben (recorded), forwarded to his mobile: customer ↔ mobile is no company number\'s conversation, the recording stops, nothing is journaled', async () => {
  const before = m.pbx.journals().length;
  const since = m.ami.events.length;
  const customer = await m.dialIn(EXTERNAL, '202', [{ media: 6000 }, { pause: 6000 }, { hangup: true }]);
  await m.waitEvent((e) => e.event === 'MixMonitorStart' && (e.get('Channel') ?? '').startsWith('PJSIP/carrier'), 'the routine\'s recording for customer → Ben', since);
  await m.waitEvent((e) => e.event === 'MixMonitorStop' && (e.get('Channel') ?? '').startsWith('PJSIP/carrier'), 'stopped when the mobile answers', since);
  await customer.done();
  await sleep(2000);
  assert.is(m.pbx.journals().length, before, JSON.stringify(m.pbx.journals().slice(before).map(summary)));
});

test('park and retrieve: Anna parks the customer (AMI Park), Ben retrieves with 701: part 1 customer ↔ Anna ends at parking, part 2 customer ↔ Ben, linked', async () => {
  const before = m.pbx.journals().length;
  const since = m.ami.events.length;
  await m.answer('201', [{ media: 3000 }, { awaitBye: true }], 300);
  const customer = await m.dialIn(EXTERNAL, '201', [{ media: 12000 }, { pause: 12000 }, { hangup: true }]);
  await m.together(/^PJSIP\/carrier-/, /^PJSIP\/201-/);
  await sleep(2500);
  const parked = await m.ami.action('Park', { Channel: await m.channel(/^PJSIP\/carrier-/), TimeoutChannel: await m.channel(/^PJSIP\/201-/), Parkinglot: 'default' });
  assert.ok(parked.ok, parked.message.get('Message'));
  // Parked, the customer waits alone: part 1 ends there (no hold music in it).
  await m.waitEvent((e) => e.event === 'MixMonitorStop' && (e.get('Channel') ?? '').startsWith('PJSIP/carrier'), 'part 1 stopped at parking', since, 5000);
  // Anna's Dial is over once her peer is parked; hang her up if Asterisk has not yet.
  const annaLeft = (await m.channels()).find((n) => n.startsWith('PJSIP/201-'));
  if (annaLeft) await m.ami.action('Hangup', { Channel: annaLeft });
  await sleep(1500);
  await m.dial('202', '701', [{ media: 4000 }, { pause: 4000 }, { hangup: true }]);
  await customer.done();
  const [first, second] = await m.newJournals(before, 2);
  assertMovedFromAnnaToBen(first, second);
  assert.is(second!.callee.number, '202');
  assert.is(second!.rule, 'sales-external');
});

test('ConfBridge with Anna (recorded: the conference is no company number, so her outbound external rule applies) and Carla (manual: not recorded): one recording, on Anna\'s leg, of the conference as she hears it; participants are everyone heard', async () => {
  const before = m.pbx.journals().length;
  const since = m.ami.events.length;
  const anna = await m.dial('201', '800', [{ media: 8000 }, { pause: 8000 }, { hangup: true }]);
  await sleep(1000);
  const carla = await m.dial('301', '800', [{ media: 5000 }, { pause: 5000 }, { hangup: true }]);
  await carla.done();
  await anna.done();
  const [j] = await m.newJournals(before, 1);
  const starts = m.ami.events.slice(since).filter((e) => e.event === 'MixMonitorStart');
  assert.equal(starts.map((e) => (e.get('Channel') ?? '').slice(0, 10)), ['PJSIP/201-'], 'only Anna\'s leg records');
  assert.is(j!.caller.number, '201');
  assert.is(j!.callee.number, '800');
  assert.is(j!.rule, 'sales-external');
  assert.ok(numbers(j!).every((n) => /^[0-9]+$/.test(n)), `parties, never channel names: ${summary(j!)}`);
  assert.ok(numbers(j!).includes('301'), `Carla was heard in Anna's recording: ${summary(j!)}`);
});

test.run();
