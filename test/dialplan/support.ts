// Shared by the dialplan tests and the benchmark: random valid rule sets, and running one call through the routine.
import { validateRules } from '../../generator/validate.ts';
import { BUNDLED_RULES } from '../../bin/cli-support.ts';
import type { CallDecision } from '../../generator/decide.ts';
import type { Policy } from '../../generator/policy.ts';
import type { Role, Rule, RuleSet, Team, User } from '../../generator/rule-set.ts';
import { Channel, Pbx, type RunResult } from './interpreter/pbx.ts';
import { prng } from '../support/prng.ts';

export function bundledRuleSet(): RuleSet {
  const result = validateRules(BUNDLED_RULES);
  if (!result.ok) throw new Error('bundled rules invalid');
  return result.ruleSet;
}


export interface RandomShape {
  users: number;
  teams: number;
  roles: number;
  rules: number;
}

/**
 * A valid rule set (what validateRules would return) built in memory: users on both hosts, teams nesting
 * earlier teams (no cycles), roles of users and teams, rules with every mode/direction/origin/active flag.
 */
export function randomRuleSet(seed: number, shape?: Partial<RandomShape>): RuleSet {
  const rnd = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const subset = <T>(xs: readonly T[], p: number): T[] => xs.filter(() => rnd() < p);
  const base = bundledRuleSet();
  const hosts = base.hosts.map((h) => h.name);
  const size = { users: shape?.users ?? int(1, 10), teams: shape?.teams ?? int(0, 4), roles: shape?.roles ?? int(1, 4), rules: shape?.rules ?? int(0, 6) };

  const exts = new Set<string>();
  const freshExt = () => {
    const width = size.users + size.teams > 500 ? 6 : 3;
    for (;;) {
      const ext = String(int(10 ** (width - 1), 10 ** width - 1));
      if (!exts.has(ext)) {
        exts.add(ext);
        return ext;
      }
    }
  };
  const users: User[] = Array.from({ length: size.users }, (_, i) => ({ id: `u${i}`, name: `User ${i}`, ext: freshExt(), host: pick(hosts), phones: [] }));
  const teams: Team[] = [];
  for (let i = 0; i < size.teams; i++) {
    const members = [...subset(users.map((u) => u.id), 0.3), ...subset(teams.map((t) => t.id), 0.3)];
    if (members.length === 0) members.push(pick(users).id);
    teams.push({ id: `t${i}`, name: `Team ${i}`, ...(rnd() < 0.7 ? { ext: freshExt() } : {}), members, host: pick(hosts) });
  }
  const candidates = [...users.map((u) => u.id), ...teams.map((t) => t.id)];
  const roles: Role[] = Array.from({ length: size.roles }, (_, i) => {
    const members = subset(candidates, Math.min(0.4, 4 / candidates.length));
    if (members.length === 0) members.push(pick(candidates));
    return { id: `role${i}`, name: `Role ${i}`, members, canView: [] };
  });
  const rules: Rule[] = Array.from({ length: size.rules }, (_, i) => ({
    id: `rule-${i}`,
    name: `Rule ${i}`,
    role: pick(roles).id,
    mode: pick(['auto', 'manual'] as const),
    active: rnd() < 0.85,
    direction: pick(['inbound', 'outbound', 'both'] as const),
    origin: pick(['internal', 'external', 'both'] as const),
    ...(rnd() < 0.3 ? { beep: int(5, 600) } : {}),
    ...(rnd() < 0.3 ? { announcement: pick(['custom/recording-notice', 'beep', 'de/aufnahme_hinweis']) } : {}),
  }));
  return { ...base, users, teams, roles, rules };
}

export interface Observation {
  result: RunResult;
  chan: Channel;
}

/** One call of the routine on a fresh channel, with MDC_MON_MODE set first when given. */
export function callCheck(pbx: Pbx, args: string[], mode?: string, chan = new Channel('PJSIP/phone-00000001')): Observation {
  if (mode !== undefined) chan.setVar('MDC_MON_MODE', mode);
  return { result: pbx.callRoutine(chan, 'mitschnitt-check', 's', 1, args), chan };
}

export const MODES: (string | undefined)[] = [undefined, '', 'auto', 'force', 'deny', 'manual', 'FORCE', 'garbage', 'x" | "1', 'x:d2', 'deny,1', '$[1]', 'force|', 'manual\\'];

export const ORIGINS: (string | undefined)[] = [undefined, 'internal', 'external', 'x|internal'];

/**
 * What the routine left behind, in decide()'s terms; the test compares it field by field with decide().
 * `violations` lists what must hold whatever the decision (priority budget, no hangup, no leaked LOCALs…).
 */
export function observe(policy: Policy, obs: Observation): { seen: Record<string, unknown>; violations: string[] } {
  const { chan, result } = obs;
  const v = (name: string) => chan.getVar(name) ?? '';
  const decision = v('MITSCHNITT_DECISION');
  const violations: string[] = [];
  if (result.hangup) violations.push(`hangup: ${result.hangup}`);
  if (result.priorities > 10) violations.push(`${result.priorities} priorities`);
  if (result.retval !== decision) violations.push(`GOSUB_RETVAL ${result.retval} but MITSCHNITT_DECISION ${decision}`);
  for (const local of ['x', 'y', 'a', 'b', 't', 'o', 'w', 'ARG1', 'ARG2', 'ARG3', 'ARGC']) {
    if (chan.getVar(local) !== undefined) violations.push(`LOCAL ${local} survived the Return`);
  }
  if (chan.effects.some((e) => e.kind === 'LookupFailed')) violations.push('a lookup failed');
  const recordings = chan.mixMonitors();
  const records = decision === 'auto' || decision === 'force';
  if (recordings.length !== (records ? 1 : 0)) violations.push(`${recordings.length} MixMonitor for ${decision}`);
  if (records) {
    const mm = recordings[0]!;
    if (mm.file !== v('MITSCHNITT_FILE')) violations.push('MixMonitor file is not MITSCHNITT_FILE');
    if (!v('MITSCHNITT_MIXMON_ID') || mm.id !== v('MITSCHNITT_MIXMON_ID')) violations.push('no MixMonitor id in MITSCHNITT_MIXMON_ID');
    if (!mm.options.startsWith('b')) violations.push('MixMonitor without option b');
    const rule = v('MITSCHNITT_RULE');
    const beep = rule ? policy.rules[rule]?.beep : undefined;
    if (mm.beep !== beep) violations.push(`beep ${mm.beep} instead of ${beep}`);
  } else if (chan.getVar('MITSCHNITT_FILE') !== undefined) violations.push('MITSCHNITT_FILE set without a recording');
  const rule = v('MITSCHNITT_RULE');
  const announce = (decision === 'auto' || decision === 'manual') && rule ? (policy.rules[rule]?.announcement ?? '') : '';
  if (v('MITSCHNITT_ANNOUNCE') !== announce) violations.push(`MITSCHNITT_ANNOUNCE ${v('MITSCHNITT_ANNOUNCE')} instead of ${announce}`);
  if (v('MITSCHNITT_MANUAL') !== (decision === 'manual' ? '1' : '0')) violations.push(`MITSCHNITT_MANUAL ${v('MITSCHNITT_MANUAL')} for ${decision}`);
  return {
    seen: {
      decision,
      rule: rule === '' ? null : rule,
      direction: v('MITSCHNITT_DIRECTION') === '' ? null : v('MITSCHNITT_DIRECTION'),
      origin: v('MITSCHNITT_ORIGIN'),
      from: v('MITSCHNITT_CALLER'),
      to: v('MITSCHNITT_CALLEE'),
      warned: chan.effects.some((e) => e.kind === 'Log' && e.level === 'WARNING'),
    },
    violations,
  };
}

/** decide()'s answer in the same shape; the dialplan warns only about MDC_MON_MODE (an odd ARG3 is derived silently). */
export function expected(d: CallDecision, mode: string | undefined): Record<string, unknown> {
  const known = mode === undefined || ['', 'auto', 'force', 'deny', 'manual'].includes(mode);
  return { decision: d.decision, rule: d.rule, direction: d.direction, origin: d.origin, from: d.from, to: d.to, warned: !known };
}

/** The numbers of the three probe users withProbes() adds. */
export const PROBES = { auto: '9000001', manual: '9000002', none: '9000003' } as const;

/**
 * Adds three users on the first host whose outbound external calls are auto, manual and none whatever the
 * other rules say (their roles and rules are their own), so every path can be measured in any rule set.
 */
export function withProbes(ruleSet: RuleSet): RuleSet {
  const host = ruleSet.hosts[0]!.name;
  const probe = (id: string, ext: string): User => ({ id, name: id, ext, host, phones: [] });
  const role = (id: string): Role => ({ id, name: id, members: [id], canView: [] });
  return {
    ...ruleSet,
    users: [...ruleSet.users, probe('probe-auto', PROBES.auto), probe('probe-manual', PROBES.manual), probe('probe-none', PROBES.none)],
    roles: [...ruleSet.roles, role('probe-auto'), role('probe-manual')],
    rules: [
      ...ruleSet.rules,
      { id: 'probe-auto', name: 'probe', role: 'probe-auto', mode: 'auto', active: true, direction: 'outbound', origin: 'external' },
      { id: 'probe-manual', name: 'probe', role: 'probe-manual', mode: 'manual', active: true, direction: 'both', origin: 'both' },
    ],
  };
}

/** Executed priorities on each path through the routine (a count, not a time). */
export function pathCosts(pbx: Pbx, from: { auto: string; manual: string; none: string }, external = '0301234567'): Record<string, number> {
  const cost = (args: string[], mode?: string) => {
    const { result } = callCheck(pbx, args, mode);
    if (result.hangup) throw new Error(`hangup: ${result.hangup}`);
    return result.priorities;
  };
  const recording = callCheck(pbx, [from.auto, external]);
  return {
    auto: cost([from.auto, external]),
    'auto after unknown MDC_MON_MODE (warning)': cost([from.auto, external], 'garbage'),
    manual: cost([from.manual, external]),
    none: cost([from.none, external]),
    force: cost([from.none, external], 'force'),
    deny: cost([from.auto, external], 'deny'),
    'manual by MDC_MON_MODE': cost([from.none, external], 'manual'),
    'second call on a recording channel': callCheck(pbx, [from.auto, external], undefined, recording.chan).result.priorities,
    'deny inherited from upstream (child channel)': callCheck(pbx, [external, from.auto], undefined, deniedChild(pbx, [from.auto, external])).result.priorities,
    'deny on a recording channel (objection, recording stopped)': objection(pbx, [from.auto, external]).result.priorities,
  };
}

/** A channel created by a call that was denied upstream (it inherits MITSCHNITT_DECISION=deny, not MDC_MON_MODE). */
export function deniedChild(pbx: Pbx, args: string[], modeOnParent = 'deny'): Channel {
  const parent = callCheck(pbx, args, modeOnParent).chan;
  return parent.spawnChild('PJSIP/agent-00000002');
}

/** A recording channel on which the routine runs again after `Set(__MDC_MON_MODE=deny)`: the caller objected. */
export function objection(pbx: Pbx, args: string[], chan?: Channel): Observation {
  const recording = chan ?? callCheck(pbx, args).chan;
  recording.setVar('__MDC_MON_MODE', 'deny');
  return { result: pbx.callRoutine(recording, 'mitschnitt-check', 's', 1, args), chan: recording };
}
