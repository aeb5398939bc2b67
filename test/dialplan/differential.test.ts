// The generated dialplan, run by the interpreter, decides every call exactly as decide() (what explain shows).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decide } from '../../generator/decide.ts';
import { resolvePolicy } from '../../generator/resolve-policy.ts';
import { dialplanText } from '../../generator/render-dialplan.ts';
import type { Policy } from '../../generator/policy.ts';
import type { RuleSet } from '../../generator/rule-set.ts';
import { Pbx } from './interpreter/pbx.ts';
import { bundledRuleSet, callCheck, expected, MODES, objection, observe, ORIGINS, randomRuleSet } from './support.ts';
import { Channel } from './interpreter/pbx.ts';
import { prng } from '../support/prng.ts';

/**
 * Numbers a call can carry: every internal number, unknown internal-looking and external ones, empty, and
 * garbage that sanitizes to an internal number. Garbage never puts ':' after a ')': Asterisk's variable-name
 * parser would cut such a value short inside FILTER() itself (see the interpreter test), on the admin's
 * Gosub line as much as in the routine.
 */
function numbersFor(policy: Policy, all: boolean): string[] {
  const internal = Object.keys(policy.numbers);
  const first = internal[0] ?? '100';
  const last = internal[internal.length - 1] ?? '100';
  const few = [...internal, '0301234567', '', `"${last}",x`];
  if (!all) return few;
  return [...few, '999', '+4940123456', 'anonymous', ` ${first.split('').join('-')} `, `${first}){$[1]}|;\``, `(${first})\\`];
}

function check(policy: Policy, pbx: Pbx, from: string, to: string, origin: string | undefined, mode: string | undefined, where: string): void {
  const args = origin === undefined ? [from, to] : [from, to, origin];
  const obs = callCheck(pbx, args, mode);
  const { seen, violations } = observe(policy, obs);
  const label = `${where}: from ${JSON.stringify(from)} to ${JSON.stringify(to)} origin ${JSON.stringify(origin)} mode ${JSON.stringify(mode)}`;
  assert.equal(violations, [], label);
  assert.equal(seen, expected(decide(policy, { from, to, ...(origin === undefined ? {} : { origin }), ...(mode === undefined ? {} : { mode }) }), mode), label);

  // Calling the routine again on the same channel changes nothing and starts no second recording.
  const decision = seen.decision as string;
  const again = callCheck(pbx, args, undefined, obs.chan);
  if (decision === 'auto' || decision === 'force') {
    assert.is(obs.chan.mixMonitors().length, 1, `${label}: second call`);
    assert.is(again.result.retval, decision, `${label}: second call`);
    assert.ok(again.result.priorities <= 2, `${label}: second call`);
    // A channel created from it (Dial, Queue, Local) inherits the decision and starts nothing either.
    const child = obs.chan.spawnChild('PJSIP/agent-00000002');
    const inherited = callCheck(pbx, [to, from], undefined, child);
    assert.equal(child.mixMonitors(), [], `${label}: child channel`);
    assert.is(inherited.result.retval, decision, `${label}: child channel`);
  }
}

function everyCall(ruleSet: RuleSet, where: string, sample?: () => number): number {
  let calls = 0;
  for (const host of ruleSet.hosts) {
    const policy = resolvePolicy(ruleSet, host.name);
    const pbx = new Pbx(dialplanText(policy), { now: () => 1764100000 });
    const numbers = numbersFor(policy, !sample);
    for (const from of numbers) {
      for (const to of numbers) {
        if (sample) {
          // Random sets: every origin for every pair, with MDC_MON_MODE drawn from the full list (seeded, repeatable).
          for (const origin of ORIGINS) {
            check(policy, pbx, from, to, origin, MODES[Math.floor(sample() * MODES.length)], `${where} ${host.name}`);
            calls++;
          }
          continue;
        }
        for (const origin of ORIGINS) {
          for (const mode of MODES) {
            check(policy, pbx, from, to, origin, mode, `${where} ${host.name}`);
            calls++;
          }
        }
      }
    }
  }
  return calls;
}

test('bundled rules: every caller × callee × origin × MDC_MON_MODE decides like decide(), on both hosts', () => {
  const calls = everyCall(bundledRuleSet(), 'bundled');
  assert.ok(calls > 10_000, `${calls} calls`);
});

test('200 random rule sets: every caller × callee × origin (MDC_MON_MODE drawn per call) decides like decide()', () => {
  let calls = 0;
  for (let seed = 1; seed <= 200; seed++) calls += everyCall(randomRuleSet(seed), `seed ${seed}`, prng(seed * 7919));
  assert.ok(calls > 80_000, `${calls} calls`);
});

test('a deny is call-wide: on 200 random sets every child of a denied call (plain or __ MDC_MON_MODE, any child MDC_MON_MODE) is deny and records nothing, and a later deny stops a running recording', () => {
  let children = 0;
  let objections = 0;
  for (let seed = 1; seed <= 200; seed++) {
    const ruleSet = randomRuleSet(seed);
    const policy = resolvePolicy(ruleSet, ruleSet.hosts[0]!.name);
    const pbx = new Pbx(dialplanText(policy), { now: () => 1764100000 });
    const numbers = [...Object.keys(policy.numbers), '0301234567'];
    for (const from of numbers) {
      for (const to of numbers) {
        for (const pmode of ['MDC_MON_MODE', '__MDC_MON_MODE']) {
          const parent = new Channel('PJSIP/trunk-00000001');
          parent.setVar(pmode, 'deny');
          assert.is(pbx.callRoutine(parent, 'mitschnitt-check', 's', 1, [from, to]).retval, 'deny');
          for (const childMode of [undefined, 'force', 'manual', 'auto']) {
            const child = parent.spawnChild('PJSIP/agent-00000002');
            const seen = callCheck(pbx, [to, from], childMode, child);
            assert.is(seen.result.retval, 'deny', `seed ${seed}: ${from} → ${to} (${pmode}), child with ${childMode}`);
            assert.is(child.mixMonitors().length, 0);
            assert.is(child.getVar('MITSCHNITT_MANUAL'), '0');
            assert.ok(seen.result.priorities <= 10);
            assert.is(decide(policy, { from: to, to: from, inherited: 'deny', ...(childMode ? { mode: childMode } : {}) }).decision, 'deny');
            children++;
          }
        }
        const first = callCheck(pbx, [from, to]);
        if (first.result.retval === 'auto') {
          const later = objection(pbx, [from, to], first.chan);
          assert.is(later.result.retval, 'deny', `seed ${seed}: objection ${from} → ${to}`);
          assert.equal(later.chan.runningMixMonitors(), [], `seed ${seed}: objection ${from} → ${to}`);
          assert.ok(later.result.priorities <= 10);
          objections++;
        }
      }
    }
  }
  assert.ok(children > 10_000 && objections > 100, `${children} children, ${objections} objections`);
});

test('the random sets cover every decision, with and without MDC_MON_MODE', () => {
  const seen = new Set<string>();
  for (let seed = 1; seed <= 200; seed++) {
    const ruleSet = randomRuleSet(seed);
    const policy = resolvePolicy(ruleSet, ruleSet.hosts[0]!.name);
    const numbers = Object.keys(policy.numbers);
    for (const from of numbers) for (const to of [...numbers, '0301234567']) seen.add(decide(policy, { from, to }).decision);
  }
  assert.equal([...seen].sort(), ['auto', 'manual', 'none']);
});

test.run();
