// The real Asterisk is the judge of the generated routine: every case runs through `mitschnitt-check` on the
// engine, and the engine must decide as decide() (what explain shows) and as the interpreter (the fast model).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decide } from '../../generator/decide.ts';
import type { Policy } from '../../generator/policy.ts';
import { resolvePolicy } from '../../generator/resolve-policy.ts';
import { dialplanText } from '../../generator/render-dialplan.ts';
import type { RuleSet } from '../../generator/rule-set.ts';
import { Pbx } from '../dialplan/interpreter/pbx.ts';
import { bundledRuleSet, MODES, ORIGINS, randomRuleSet } from '../dialplan/support.ts';
import { prng } from '../support/prng.ts';
import { startAsterisk, type AsteriskInstance } from './asterisk-instance.ts';
import { runOnEngine, runOnInterpreter, withSpool, type RoutineCase, type RoutineObservation } from './routine-cases.ts';

let ast: AsteriskInstance;


test.before(async () => {
  ast = await startAsterisk({
    extensions: '#include "mitschnitt.conf"\n#include "mt-driver.conf"\n',
    configs: { 'mitschnitt.conf': '', 'mt-driver.conf': '' },
  });

});
test.after(async () => ast?.stop());

/** Numbers a call can carry: every internal number, unknown and external ones, empty, and garbage. */
function numbersFor(policy: Policy, all: boolean): string[] {
  const internal = Object.keys(policy.numbers);
  const first = internal[0] ?? '100';
  const last = internal[internal.length - 1] ?? '100';
  const few = [...internal, '0301234567', ''];
  if (!all) return few;
  return [...few, '999', '+4940123456', 'anonymous', `"${last}",x`, ` ${first.split('').join('-')} `, `(${first})\\`];
}

/** What decide() says, in the observation's terms ('' where the dialplan leaves a variable empty). */
function expectedOf(policy: Policy, received: string[], mode: string | undefined) {
  const [from = '', to = '', origin] = received;
  const d = decide(policy, { from, to, ...(origin === undefined ? {} : { origin }), ...(mode === undefined ? {} : { mode }) });
  const known = mode === undefined || ['', 'auto', 'force', 'deny', 'manual'].includes(mode);
  return {
    decision: d.decision,
    rule: d.rule ?? '',
    direction: d.direction ?? '',
    origin: d.origin,
    caller: d.from,
    callee: d.to,
    manual: d.decision === 'manual' ? '1' : '0',
    warned: !known,
  };
}

function judge(policy: Policy, pbx: Pbx, c: RoutineCase, seen: RoutineObservation, where: string): void {
  const label = `${where}: args ${JSON.stringify(c.args)} mode ${JSON.stringify(c.mode)} (received ${JSON.stringify(seen.received)})`;
  const expected = expectedOf(policy, seen.received, c.mode);
  const { decision, rule, direction, origin, caller, callee, manual, warned } = seen;
  assert.equal({ decision, rule, direction, origin, caller, callee, manual, warned }, expected, `${label}: engine vs decide()`);
  assert.is(seen.ret, seen.decision, `${label}: GOSUB_RETVAL`);
  const records = decision === 'auto' || decision === 'force';
  assert.is(seen.mixMonitors, records ? 1 : 0, `${label}: MixMonitorStart events over two calls`);
  assert.is(seen.hasMixMonitorId, records, `${label}: MITSCHNITT_MIXMON_ID`);
  assert.equal(seen.leaked, [], `${label}: frame variables after Return`);
  assert.ok(seen.priorities >= 1 && seen.priorities <= 10, `${label}: ${seen.priorities} priorities on the engine`);
  assert.is(seen.again.ret, decision, `${label}: second call`);
  if (records) assert.ok(seen.again.priorities <= 2, `${label}: second call ran ${seen.again.priorities} priorities`);
  assert.equal(runOnInterpreter(pbx, seen.received, c.mode), seen, `${label}: interpreter vs engine`);
}

async function judgeHost(ruleSet: RuleSet, host: string, cases: (policy: Policy) => RoutineCase[], where: string): Promise<number> {
  const policy = withSpool(resolvePolicy(ruleSet, host), `${ast.dir}/spool/recordings`);
  const dialplan = dialplanText(policy);
  const list = cases(policy);
  const seen = await runOnEngine(ast, dialplan, list);
  const pbx = new Pbx(dialplan);
  list.forEach((c, i) => judge(policy, pbx, c, seen[i]!, `${where} ${host}`));
  return list.length;
}

test('bundled rules: every caller × callee × origin × MDC_MON_MODE on the real routine decides as decide() and the interpreter', async () => {
  const ruleSet = bundledRuleSet();
  let n = 0;
  for (const host of ruleSet.hosts) {
    n += await judgeHost(ruleSet, host.name, (policy) => {
      const numbers = numbersFor(policy, host === ruleSet.hosts[0]);
      return numbers.flatMap((from) => numbers.flatMap((to) => ORIGINS.flatMap((origin) => MODES.map((mode) => ({ args: origin === undefined ? [from, to] : [from, to, origin], mode })))));
    }, 'bundled');
  }
  assert.ok(n > 8000, `${n} cases`);
});

test('50 random rule sets, every host: caller × callee × origin with a drawn MDC_MON_MODE, on the engine', async () => {
  let n = 0;
  for (let seed = 1; seed <= 50; seed++) {
    const ruleSet = randomRuleSet(seed);
    const draw = prng(seed * 104729);
    for (const host of ruleSet.hosts) {
      n += await judgeHost(ruleSet, host.name, (policy) => {
        const numbers = numbersFor(policy, false);
        return numbers.flatMap((from) => numbers.flatMap((to) => ORIGINS.map((origin) => ({ args: origin === undefined ? [from, to] : [from, to, origin], mode: MODES[Math.floor(draw() * MODES.length)] }))));
      }, `seed ${seed}`);
    }
  }
  assert.ok(n > 5000, `${n} cases`);
});

test.run();
