// The README's way of calling the routine, run end to end: the admin's own contexts around the generated file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolvePolicy } from '../../generator/resolve-policy.ts';
import { dialplanText } from '../../generator/render-dialplan.ts';
import { Channel, Pbx } from './interpreter/pbx.ts';
import { bundledRuleSet } from './support.ts';

// As in README "Dialplan" (Dial is where the call would continue; here the run ends after the check).
const ADMIN = `
[from-internal]
exten => _X.,1,Gosub(mitschnitt-check,s,1(\${FILTER(0-9*#+,\${CALLERID(num)})},\${FILTER(0-9*#+,\${EXTEN})}))
 same => n,NoOp(decided \${GOSUB_RETVAL})

[from-trunk]
exten => _X.,1,Gosub(mitschnitt-check,s,1(\${FILTER(0-9*#+,\${CALLERID(num)})},\${FILTER(0-9*#+,\${EXTEN})},external))
 same => n,NoOp(decided \${GOSUB_RETVAL})

[ivr-no-recording]
exten => s,1,Set(__MDC_MON_MODE=deny)
 same => n,Goto(from-trunk,600,1)
`;

const pbx = new Pbx(`${dialplanText(resolvePolicy(bundledRuleSet(), 'pbx-berlin'))}\n${ADMIN}`, { now: () => 1764100000 });

test('internal phone calls out: Anna (201) dialling an external number is recorded, her channel holds the variables', () => {
  const anna = new Channel('PJSIP/anna-00000001', '201');
  const result = pbx.run(anna, 'from-internal', '0301234567');
  assert.is(result.hangup, undefined);
  assert.is(anna.getVar('GOSUB_RETVAL'), 'auto');
  assert.is(anna.getVar('MITSCHNITT_RULE'), 'sales-external');
  assert.is(anna.getVar('MITSCHNITT_DIRECTION'), 'outbound');
  assert.is(anna.mixMonitors().length, 1);
  // The callee's channel (Dial creates it) inherits the decision but not the file or the MixMonitor id.
  const callee = anna.spawnChild('PJSIP/trunk-00000002');
  assert.is(callee.getVar('MITSCHNITT_DECISION'), 'auto');
  assert.is(callee.getVar('MITSCHNITT_FILE'), undefined);
  assert.is(callee.getVar('MITSCHNITT_MIXMON_ID'), undefined);
});

test('a caller ID with spaces and dashes is filtered by the admin line and still found', () => {
  const anna = new Channel('PJSIP/anna-00000003', ' 2-0-1 ');
  pbx.run(anna, 'from-internal', '0301234567');
  assert.is(anna.getVar('MITSCHNITT_CALLER'), '201');
  assert.is(anna.getVar('MITSCHNITT_DECISION'), 'auto');
});

test('DID -> team -> agent: recorded once on the trunk channel; the agent legs inherit auto and start nothing', () => {
  const trunk = new Channel('PJSIP/trunk-00000004', '+49301234567');
  pbx.run(trunk, 'from-trunk', '600');
  assert.is(trunk.getVar('MITSCHNITT_DECISION'), 'auto');
  assert.is(trunk.getVar('MITSCHNITT_DIRECTION'), 'inbound');
  assert.is(trunk.mixMonitors().length, 1);
  // The queue rings Ben through a Local channel whose dialplan calls the check again for the member.
  const local = trunk.spawnChild('Local/202@agents-00000001;2', '+49301234567');
  const again = pbx.run(local, 'from-trunk', '202');
  assert.is(again.hangup, undefined);
  assert.is(local.getVar('GOSUB_RETVAL'), 'auto');
  assert.equal(local.mixMonitors(), []);
  assert.ok(again.priorities <= 4, `${again.priorities}`);
});

test('IVR branch sets __MDC_MON_MODE=deny: not recorded although the rule records the team, and agents inherit deny', () => {
  const trunk = new Channel('PJSIP/trunk-00000005', '+49301234567');
  const result = pbx.run(trunk, 'ivr-no-recording', 's');
  assert.is(result.hangup, undefined);
  assert.is(trunk.getVar('MITSCHNITT_DECISION'), 'deny');
  assert.equal(trunk.mixMonitors(), []);
  const agent = trunk.spawnChild('Local/202@agents-00000002;2', '+49301234567');
  pbx.run(agent, 'from-trunk', '202');
  assert.is(agent.getVar('MITSCHNITT_DECISION'), 'deny');
  assert.equal(agent.mixMonitors(), []);
});

test('an unknown MDC_MON_MODE logs a WARNING naming the filtered value, and the rules decide', () => {
  const anna = new Channel('PJSIP/anna-00000006', '201');
  anna.setVar('MDC_MON_MODE', 'FORCE;rm -rf');
  pbx.run(anna, 'from-internal', '0301234567');
  assert.is(anna.getVar('MITSCHNITT_DECISION'), 'auto');
  const warning = anna.effects.find((e) => e.kind === 'Log');
  assert.equal(warning, { kind: 'Log', level: 'WARNING', message: "mitschnitt-check: unknown MDC_MON_MODE 'FORCErmrf': the rules decide" });
});

test.run();
