// A caller's deny on the real engine: it holds for every channel the call creates (Dial's pre-dial handler on
// the agent's channel, a Local channel), and a later deny on a recording channel stops the recording (auto,
// force, or a manual MixMonitor started over AMI as the runtime does). The interpreter and decide() must agree.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decide } from '../../generator/decide.ts';
import type { Policy } from '../../generator/policy.ts';
import { resolvePolicy } from '../../generator/resolve-policy.ts';
import { dialplanText } from '../../generator/render-dialplan.ts';
import type { AmiMessage } from '../../runtime/ami-parser.ts';
import { Channel, Pbx } from '../dialplan/interpreter/pbx.ts';
import { bundledRuleSet, callCheck, objection } from '../dialplan/support.ts';
import { startAsterisk, type AsteriskInstance, type TestAmi } from './asterisk-instance.ts';
import { withSpool } from './routine-cases.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const EXTERNAL = '004930123456';
let ast: AsteriskInstance;
let ami: TestAmi;
let policy: Policy;
let pbx: Pbx;

// A PJSIP endpoint nobody answers for: Dial creates its channel and runs the pre-dial handler on it, as for an agent's phone.
const PJSIP = `[agent]
type = endpoint
context = mt-none
disallow = all
allow = alaw
aors = agent
[agent]
type = aor
contact = sip:agent@127.0.0.1:9
`;

const REPORT = (tag: string) =>
  `UserEvent(${tag},Case: \${CASE},Ret: \${GOSUB_RETVAL},Decision: \${MITSCHNITT_DECISION},Manual: \${MITSCHNITT_MANUAL},MixMon: \${MITSCHNITT_MIXMON_ID})`;

test.before(async () => {
  ast = await startAsterisk({
    extensions: `#include "mitschnitt.conf"
[mt-parent]
; \${PMODE}: the variable the IVR sets (MDC_MON_MODE or __MDC_MON_MODE); \${VIA}: local or dial.
exten => s,1,Set(\${PMODE}=deny)
 same => n,Gosub(mitschnitt-check,s,1(\${PFROM},\${PTO}))
 same => n,${REPORT('MtParent')}
 same => n,GotoIf($["\${VIA}" = "dial"]?dial)
 same => n,Dial(Local/s@mt-child/n,2)
 same => n,Hangup()
 same => n(dial),Dial(PJSIP/agent,1,b(mt-predial^s^1))
 same => n,Hangup()

[mt-child]
exten => s,1,ExecIf($["\${CORIGIN}" = ""]?Gosub(mitschnitt-check,s,1(\${CFROM},\${CTO})):Gosub(mitschnitt-check,s,1(\${CFROM},\${CTO},\${CORIGIN})))
 same => n,${REPORT('MtChild')}
 same => n,Hangup()

[mt-predial]
exten => s,1,ExecIf($["\${CORIGIN}" = ""]?Gosub(mitschnitt-check,s,1(\${CFROM},\${CTO})):Gosub(mitschnitt-check,s,1(\${CFROM},\${CTO},\${CORIGIN})))
 same => n,${REPORT('MtChild')}
 same => n,Return()

[mt-objection]
; A recording channel (\${FIRST}: the rules, or force) on which the caller objects later.
exten => s,1,ExecIf($["\${FIRST}" = "force"]?Set(MDC_MON_MODE=force))
 same => n,Gosub(mitschnitt-check,s,1(\${PFROM},\${PTO}))
 same => n,${REPORT('MtFirst')}
 same => n,Wait(1)
 same => n,Set(\${PMODE}=deny)
 same => n,Gosub(mitschnitt-check,s,1(\${PFROM},\${PTO}))
 same => n,${REPORT('MtObjection')}
 same => n,Wait(0.5)
 same => n,Hangup()
`,
    configs: { 'mitschnitt.conf': '', 'pjsip.conf': PJSIP },
  });
  const ruleSet = bundledRuleSet();
  policy = withSpool(resolvePolicy(ruleSet, 'pbx-berlin'), `${ast.dir}/spool/recordings`);
  const dialplan = dialplanText(policy);
  writeFileSync(join(ast.etc, 'mitschnitt.conf'), dialplan);
  await ast.cli('dialplan reload');
  pbx = new Pbx(dialplan);
  ami = await ast.ami();
  await ami.action('Filter', { Operation: 'Add', Filter: 'Event: (UserEvent|MixMonitorStart|MixMonitorStop|Hangup)' });
});
test.after(async () => ast?.stop());

let caseNo = 0;
/** Originates a Local channel into `context` with the variables set; resolves with every event of that call. */
async function runCall(context: string, vars: Record<string, string>, until: string, onReady?: (e: AmiMessage) => Promise<void>): Promise<AmiMessage[]> {
  const id = String(++caseNo);
  const since = ami.events.length;
  const done = ami.waitFor((m) => m.event === 'UserEvent' && m.get('UserEvent') === until && m.get('Case') === id, 20_000, `${until} of case ${id}`, since);
  const ready = onReady ? ami.waitFor((m) => m.event === 'UserEvent' && m.get('UserEvent') === 'MtFirst' && m.get('Case') === id, 20_000, 'MtFirst', since) : undefined;
  // Inherited (__), so the channels the call creates (Dial, Local) know their case too.
  const variable = Object.entries({ ...vars, CASE: id }).map(([k, v]) => `__${k}=${v}`).join(',');
  const r = await ami.action('Originate', { Channel: `Local/s@${context}/n`, Application: 'Wait', Data: '3', Async: 'true', Variable: variable });
  assert.ok(r.ok, r.message.get('Message'));
  if (ready && onReady) await onReady(await ready);
  await done;
  await new Promise((r) => setTimeout(r, 150)); // MixMonitorStop/Start of the same call may trail the UserEvent
  return ami.events.slice(since).filter((e) => (e.get('Case') ?? '') === id || e.event !== 'UserEvent');
}

const internalNumbers = () => Object.keys(policy.numbers);

test('a deny set upstream (plain and __) holds on the child channel, through Dial\'s pre-dial handler and through a Local channel, with and without ORIGIN, for every user and team', async () => {
  let cases = 0;
  for (const n of internalNumbers()) {
    for (const [from, to] of [[EXTERNAL, n], [n, EXTERNAL]] as const) {
      for (const pmode of ['MDC_MON_MODE', '__MDC_MON_MODE']) {
        for (const via of ['local', 'dial']) {
          for (const corigin of ['', 'external']) {
            const events = await runCall('mt-parent', { PMODE: pmode, PFROM: from, PTO: to, VIA: via, CFROM: from, CTO: to, CORIGIN: corigin }, 'MtChild');
            const label = `${from} → ${to}, ${pmode}=deny, child via ${via}, ORIGIN ${corigin || '(none)'}`;
            const parent = events.find((e) => e.get('UserEvent') === 'MtParent')!;
            const child = events.find((e) => e.get('UserEvent') === 'MtChild')!;
            assert.is(parent.get('Ret'), 'deny', `${label}: parent`);
            assert.is(child.get('Ret'), 'deny', `${label}: child returns deny`);
            assert.is(child.get('Decision'), 'deny', label);
            assert.is(child.get('Manual'), '0', `${label}: no manual right`);
            assert.is(events.filter((e) => e.event === 'MixMonitorStart').length, 0, `${label}: nothing records`);

            // The models agree: the interpreter's child channel, and decide() with the inherited decision.
            const args = corigin ? [from, to, corigin] : [from, to];
            const modelParent = new Channel('Local/s@mt-parent-00000001;2');
            modelParent.setVar(pmode, 'deny');
            pbx.callRoutine(modelParent, 'mitschnitt-check', 's', 1, [from, to]);
            const modelChild = modelParent.spawnChild('PJSIP/agent-00000002');
            const model = callCheck(pbx, args, undefined, modelChild);
            assert.is(model.result.retval, 'deny', `${label}: interpreter`);
            assert.is(modelChild.mixMonitors().length, 0, `${label}: interpreter`);
            assert.is(decide(policy, { from, to, ...(corigin ? { origin: corigin } : {}), inherited: 'deny' }).decision, 'deny', `${label}: decide()`);
            cases++;
          }
        }
      }
    }
  }
  assert.ok(cases >= 100, `${cases} cases`);
});

test('a later deny on a recording channel stops the recording: after auto and after force, MDC_MON_MODE with and without __', async () => {
  const auto = internalNumbers().filter((n) => decide(policy, { from: n, to: EXTERNAL }).decision === 'auto');
  assert.ok(auto.length >= 2, 'the bundled rules record some outbound external calls');
  for (const first of ['auto', 'force']) {
    for (const pmode of ['MDC_MON_MODE', '__MDC_MON_MODE']) {
      for (const n of first === 'auto' ? auto : internalNumbers().slice(0, 3)) {
        const events = await runCall('mt-objection', { FIRST: first, PMODE: pmode, PFROM: n, PTO: EXTERNAL }, 'MtObjection');
        const label = `${n} → ${EXTERNAL} (${first}), then ${pmode}=deny`;
        assert.is(events.find((e) => e.get('UserEvent') === 'MtFirst')?.get('Ret'), first, label);
        const objected = events.find((e) => e.get('UserEvent') === 'MtObjection')!;
        assert.is(objected.get('Ret'), 'deny', `${label}: the routine returns deny`);
        assert.is(objected.get('Decision'), 'deny', label);
        const channel = objected.get('Channel');
        const starts = events.filter((e) => e.event === 'MixMonitorStart' && e.get('Channel') === channel);
        const stops = events.filter((e) => e.event === 'MixMonitorStop' && e.get('Channel') === channel);
        assert.is(starts.length, 1, `${label}: one recording started`);
        assert.is(stops.length, 1, `${label}: and stopped by the objection`);

        const model = objection(pbx, [n, EXTERNAL], callCheck(pbx, [n, EXTERNAL], first === 'force' ? 'force' : undefined).chan);
        assert.is(model.result.retval, 'deny', `${label}: interpreter`);
        assert.is(model.chan.runningMixMonitors().length, 0, `${label}: interpreter stops it too`);
        assert.ok(model.result.priorities <= 10, `${label}: ${model.result.priorities} priorities`);
      }
    }
  }
});

test('a later deny stops a manual recording started over AMI (as the runtime starts it) on that channel', async () => {
  const manual = internalNumbers().filter((n) => decide(policy, { from: n, to: EXTERNAL }).decision === 'manual');
  assert.ok(manual.length >= 1, 'the bundled rules let some users record by hand');
  for (const n of manual) {
    let started = '';
    const events = await runCall('mt-objection', { FIRST: 'rules', PMODE: '__MDC_MON_MODE', PFROM: n, PTO: EXTERNAL }, 'MtObjection', async (first) => {
      assert.is(first.get('Ret'), 'manual');
      const file = `${ast.dir}/spool/recordings/manual-${first.get('Uniqueid')}.wav`;
      const r = await ami.action('MixMonitor', { Channel: first.get('Channel')!, File: file, Options: 'bi(MITSCHNITT_MIXMON_ID)' });
      assert.ok(r.ok, r.message.get('Message'));
      started = r.message.get('MixMonitorID') ?? '';
    });
    const objected = events.find((e) => e.get('UserEvent') === 'MtObjection')!;
    assert.is(objected.get('Ret'), 'deny');
    assert.is(objected.get('MixMon'), started, 'the routine saw the manual recording\'s id');
    assert.is(events.filter((e) => e.event === 'MixMonitorStop' && e.get('Channel') === objected.get('Channel')).length, 1, `${n}: the manual recording stopped`);
  }
});

test.run();
