// A caller's objection on the real Asterisk: a later `Set(__MDC_MON_MODE=deny)` + mitschnitt-check on a channel
// that records (here by a DTMF feature *9 on that channel, as an IVR key would) — after an auto recording,
// after a forced one, after a manual start by SIP INFO. The routine stops its own MixMonitor; serve journals the
// recording as objected and (settings.objection default `discard`) deletes its audio; manual recording stays
// refused for the rest of the call.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXTERNAL, MovingCalls, sleep, summary } from './moving-calls-support.ts';

let m: MovingCalls;
test.before(async () => {
  m = await MovingCalls.start({
    // *9 on any channel runs the objection branch an admin's IVR would run, on that channel.
    applicationmap: 'mt-objection => *9,self,Gosub(mt-objection,s,1)',
    // The feature must be named in the channel's own DYNAMIC_FEATURES (a [globals] value did not arm it on the
    // engine): prefix 7 arms it on the calling channel, prefix 8 forces recording (an IVR's choice).
    extensions: `
[mt-objection]
exten => s,1,Set(__MDC_MON_MODE=deny)
 same => n,Gosub(mitschnitt-check,s,1(\${MITSCHNITT_CALLER},\${MITSCHNITT_CALLEE}))
 same => n,Return()

[from-internal]
exten => _7X.,1,Set(DYNAMIC_FEATURES=mt-objection)
 same => n,Goto(from-internal,\${EXTEN:1},1)
exten => _8X.,1,Set(__MDC_MON_MODE=force)
 same => n,Goto(from-internal,\${EXTEN:1},1)

[mt-objection-redirect]
; An operator sends the call through the objection branch (AMI Redirect), then it goes on to the customer again.
exten => s,1,Set(__MDC_MON_MODE=deny)
 same => n,Gosub(mitschnitt-check,s,1(\${MITSCHNITT_CALLER},\${MITSCHNITT_CALLEE}))
 same => n,Dial(Local/\${MITSCHNITT_CALLEE}@to-carrier,20)
 same => n,Hangup()
`,
  });
});
test.after(async () => m?.stop());
test.after.each(async () => m.hangUpAll());

function deletions(): { id: string; reason: string }[] {
  const path = join(m.pbx.spool, '.mitschnitt', 'deletions.log');
  return existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; reason: string }) : [];
}

async function objectedJournal(before: number) {
  const [j] = await m.newJournals(before, 1);
  assert.ok(j!.objection?.at, `objection noted: ${summary(j!)} ${JSON.stringify(m.pbx.serve!.lines.filter((l) => l.level !== 'debug').slice(-15))}`);
  assert.is(j!.audioDiscarded, true);
  assert.is(j!.sizeBytes, 0);
  assert.is(j!.sha256, undefined);
  assert.ok(deletions().some((d) => d.id === j!.id && d.reason === 'objection'), 'the deletion is logged');
  assert.not.ok(m.pbx.audioFiles().some((f) => f.endsWith(`/${j!.audio}`)), 'audio deleted');
  return j!;
}

test('after an auto recording (Anna calls a customer, sales-external): a deny on her recording channel stops the recording; it is discarded', async () => {
  const before = m.pbx.journals().length;
  const since = m.ami.events.length;
  await m.dial('201', `7${EXTERNAL}`, [{ media: 6000, keys: [{ at: 2500, keys: '*9' }] }, { pause: 6000 }, { hangup: true }]);
  const stop = await m.waitEvent((e) => e.event === 'MixMonitorStop', 'MixMonitorStop after the objection', since);
  assert.ok(stop.get('Channel')?.startsWith('PJSIP/201'), stop.get('Channel'));
  const j = await objectedJournal(before);
  assert.is(j.rule, 'sales-external', 'the journal keeps the decision it was recorded under');
  assert.is(j.decision, 'auto');
});

test('after a forced recording (MDC_MON_MODE=force by an IVR branch): a deny on the recording channel stops it; discarded', async () => {
  const before = m.pbx.journals().length;
  const since = m.ami.events.length;
  await m.dial('201', `87${EXTERNAL}`, [{ media: 6000, keys: [{ at: 2500, keys: '*9' }] }, { pause: 6000 }, { hangup: true }]);
  await m.waitEvent((e) => e.event === 'MixMonitorStop', 'MixMonitorStop after the objection', since);
  const j = await objectedJournal(before);
  assert.is(j.decision, 'force');
});

test('after a manual start (Carla, SIP INFO Record: on): a deny on her recording channel (an operator redirects her call through the objection branch) stops it; discarded; her Record: on is refused for the rest of the call', async () => {
  const before = m.pbx.journals().length;
  const since = m.ami.events.length;
  const carla = await m.dial('301', EXTERNAL, [{ media: 9000 }, { pause: 1500 }, { info: 'on' }, { pause: 5000 }, { info: 'on' }, { pause: 2000 }, { hangup: true }]);
  await m.waitEvent((e) => e.event === 'MixMonitorStart' && (e.get('Channel') ?? '').startsWith('PJSIP/301'), 'the manual MixMonitorStart', since);
  await sleep(1500);
  const redirected = await m.ami.action('Redirect', { Channel: await m.channel(/^PJSIP\/301-/), Context: 'mt-objection-redirect', Exten: 's', Priority: '1' });
  assert.ok(redirected.ok, redirected.message.get('Message'));
  await m.waitEvent((e) => e.event === 'MixMonitorStop', 'MixMonitorStop after the objection', since);
  await carla.done();
  const j = await objectedJournal(before);
  assert.is(j.decision, 'manual');
  const starts = m.ami.events.slice(since).filter((e) => e.event === 'MixMonitorStart');
  assert.is(starts.length, 1, 'the second Record: on (Carla talks to the customer again) was refused');
  assert.ok(m.pbx.serve!.lines.some((l) => l.outcome === 'not-allowed' && JSON.stringify(l).includes('objected')), m.serveTail());
});

test.run();
