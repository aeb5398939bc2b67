import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { decide, type FinalDecision } from '../generator/decide.ts';
import type { Origin, Policy } from '../generator/policy.ts';
import type { RemoteSession } from './ssh-connection.ts';
import { runCli } from './reload-verify.ts';

/** A call to put through the deployed `mitschnitt-check`, and what `explain` (generator/decide.ts) says it decides. */
export interface SelfTestCall {
  from: string;
  to: string;
  origin: Origin;
  expected: FinalDecision;
  rule: string | null;
}

/** An outside number for the test call: `0` + digits, as a trunk would deliver it. */
const OUTSIDE = '0301234567';

/**
 * Picks the call to verify with: one of this host's numbers calling out or called from outside, preferring a
 * `manual` decision (proves the rule tables are loaded, yet starts no MixMonitor, so nothing lands in the spool),
 * then `none`, then `auto` (whose header-only file the runtime discards as shorter than 1 s). Null: no numbers.
 */
export function chooseSelfTestCall(policy: Policy): SelfTestCall | null {
  const candidates: SelfTestCall[] = [];
  for (const [ext, n] of Object.entries(policy.numbers)) {
    if (n.host !== policy.host) continue;
    for (const [from, to] of [[ext, OUTSIDE], [OUTSIDE, ext]] as const) {
      const d = decide(policy, { from, to, origin: 'external' });
      candidates.push({ from, to, origin: 'external', expected: d.decision, rule: d.rule });
    }
  }
  const rank: Record<FinalDecision, number> = { manual: 0, none: 1, auto: 2, force: 3, deny: 4 };
  return candidates.sort((a, b) => rank[a.expected] - rank[b.expected])[0] ?? null;
}

export type SelfTestResult = { ok: true; decision: string } | { ok: false; reason: string };

/**
 * Puts one call through the running dialplan without a phone: a throw-away context `mitschnitt-selftest` added with
 * `dialplan add extension` (in memory only; gone at the next dialplan reload, and removed at once here) calls
 * `Gosub(mitschnitt-check,s,1(FROM,TO,ORIGIN))` and stores GOSUB_RETVAL in AstDB, a Local channel is originated into
 * it, and `database get` reads the decision back. The numbers come from the policy (digits only).
 */
export async function runSelfTestCall(session: RemoteSession, call: SelfTestCall, timeoutMs = 10_000): Promise<SelfTestResult> {
  for (const n of [call.from, call.to]) if (!/^[0-9*#+]+$/.test(n)) return { ok: false, reason: `cannot test with the number '${n}'` };
  const key = `selftest-${randomBytes(6).toString('hex')}`;
  const cli = async (command: string) => (await runCli(session, [command]))[0]!.output;
  const ctx = 'mitschnitt-selftest';
  try {
    const priorities = [
      `Gosub(mitschnitt-check,s,1(${call.from},${call.to},${call.origin}))`,
      `Set(DB(mitschnitt/${key})=\${GOSUB_RETVAL})`,
      'Hangup()',
    ];
    // All three lines in one remote command; the context is removed below whether they were all added or not.
    const adds = await runCli(session, priorities.map((app, i) => `dialplan add extension s,${i + 1},${app} into ${ctx} replace`));
    for (const { output } of adds) {
      if (!/replace by|added/i.test(output)) return { ok: false, reason: `could not add the test extension: ${output.trim().split('\n').pop()}` };
    }
    await cli(`channel originate Local/s@${ctx}/n application Wait 1`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = /^Value: (\S*)/m.exec(await cli(`database get mitschnitt ${key}`))?.[1];
      if (value !== undefined) {
        if (value === call.expected) return { ok: true, decision: value };
        return {
          ok: false,
          reason: `a test call ${call.from} → ${call.to} (${call.origin}) was decided '${value}' by the running dialplan, but explain says '${call.expected}'${call.rule ? ` (rule ${call.rule})` : ''}`,
        };
      }
      if (Date.now() > deadline) return { ok: false, reason: `a test call through mitschnitt-check returned nothing within ${timeoutMs / 1000}s (see the Asterisk log)` };
      await sleep(200);
    }
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  } finally {
    await cli(`database del mitschnitt ${key}`).catch(() => undefined);
    await cli(`dialplan remove context ${ctx}`).catch(() => undefined);
  }
}
