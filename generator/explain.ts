import { decide, type CallDecision, type CallQuestion } from './decide.ts';
import { describeRetention } from './retention.ts';
import type { Cell, Direction, Origin, Policy, PolicyRule } from './policy.ts';

export interface Explanation {
  decision: CallDecision;
  /** Sentences for a person, first the verdict. */
  lines: string[];
}

const HEADLINE: Record<CallDecision['decision'], string> = {
  auto: 'Recorded automatically',
  manual: 'Not recorded unless someone starts it',
  none: 'Not recorded',
  force: 'Recorded (forced on the channel)',
  deny: 'Not recorded (denied on the channel)',
};

/**
 * decide() in words: the verdict, the rule and why it won, the origin, and any warning.
 * `allActive` (the same host's policy resolved as if every rule were active) lets it name an inactive
 * rule that would have changed the outcome: the usual answer to "why is this not recorded?".
 */
export function explain(policy: Policy, question: CallQuestion, allActive?: Policy): Explanation {
  const d = decide(policy, question);
  const caller = party(policy, d.from);
  const callee = party(policy, d.to);
  const lines = [`${HEADLINE[d.decision]}: ${caller} calls ${callee}.`];

  const upstream = (question.inherited ?? '').replace(/[^a-z]/g, '');
  if (question.mode !== 'deny' && (upstream === 'deny' || upstream === 'auto' || upstream === 'force')) {
    lines.push(
      upstream === 'deny'
        ? 'The channel inherited MITSCHNITT_DECISION=deny: the call was denied upstream (an IVR, MDC_MON_MODE=deny), and a deny holds for every channel of the call; no recording, no manual recording.'
        : `The channel inherited MITSCHNITT_DECISION=${upstream}: the call already records on the channel that created this one, so nothing new starts here.`,
    );
    lines.push(originSentence(policy, d, question.origin));
    return { decision: d, lines };
  }
  switch (d.decision) {
    case 'force':
      lines.push('MDC_MON_MODE=force on the channel records the call whatever the rules say.');
      break;
    case 'deny':
      lines.push('MDC_MON_MODE=deny on the channel keeps the call from being recorded whatever the rules say.');
      break;
    case 'none':
      lines.push(...whyNone(policy, d));
      break;
    default:
      if (d.rule === null) {
        lines.push('MDC_MON_MODE=manual on the channel: the rules are not consulted; recording may be started and stopped by hand.');
      } else {
        lines.push(...whyRule(policy, d));
      }
  }
  if (allActive && d.decision !== 'force' && d.decision !== 'deny' && !(d.decision === 'manual' && d.rule === null)) {
    lines.push(...inactiveRule(policy, d, decide(allActive, question), allActive));
  }
  lines.push(originSentence(policy, d, question.origin));
  if (d.warning) lines.push(`Warning: ${d.warning}.`);
  return { decision: d, lines };
}

function party(policy: Policy, number: string): string {
  if (number === '') return 'an empty number';
  const n = Object.hasOwn(policy.numbers, number) ? policy.numbers[number] : undefined;
  if (!n) return `outside number ${number}`;
  const elsewhere = n.host === policy.host ? '' : `, on host ${n.host}`;
  return n.kind === 'team' ? `team ${n.name} (${number}${elsewhere})` : `${n.name} (${number}${elsewhere})`;
}

function cellOf(policy: Policy, number: string, direction: Direction, origin: Origin): Cell {
  const n = Object.hasOwn(policy.numbers, number) ? policy.numbers[number] : undefined;
  return n?.[direction][origin] ?? { decision: 'none' };
}

function whyRule(policy: Policy, d: CallDecision): string[] {
  const direction = d.direction!;
  const member = direction === 'outbound' ? d.from : d.to;
  const rule = policy.rules[d.rule!];
  const lines = [`${ruleLabel(rule, d.rule!)} ${d.decision === 'auto' ? 'records' : 'lets members record'} ${direction} ${d.origin} calls of ${roleLabel(rule)}; ${party(policy, member)} is covered as ${direction === 'outbound' ? 'the caller' : 'the callee'}.`];
  if (d.decision === 'manual') lines.push('Members may start and stop the recording themselves (record key on the phone or the web client).');
  if (rule) lines.push(handling(rule));

  const winner = cellOf(policy, member, direction, d.origin);
  if (winner.others?.length) {
    lines.push(`Also covering this: ${winner.others.map((id) => `${id} (${policy.rules[id]?.mode ?? '?'})`).join(', ')}; ${winner.decision === 'auto' ? 'auto beats manual, and among rules of one mode the first in rules.json wins' : 'among rules of one mode the first in rules.json wins'}.`);
  }
  const otherDirection: Direction = direction === 'outbound' ? 'inbound' : 'outbound';
  const otherNumber = direction === 'outbound' ? d.to : d.from;
  const other = cellOf(policy, otherNumber, otherDirection, d.origin);
  if (other.decision !== 'none' && other.rule !== undefined) {
    const why = other.decision === d.decision ? "both sides match and the caller's side decides" : 'auto beats manual';
    lines.push(`The other side, ${party(policy, otherNumber)}, is ${other.decision} by rule ${other.rule}; ${why}.`);
  }
  return lines;
}

function whyNone(policy: Policy, d: CallDecision): string[] {
  const side = (number: string, direction: Direction, role: string) => {
    const n = Object.hasOwn(policy.numbers, number) ? policy.numbers[number] : undefined;
    if (!n) return `the ${role} is not an internal number`;
    if (n.host !== policy.host) return `the ${role} lives on host ${n.host}, whose own dialplan decides its calls`;
    return `no active rule covers ${direction} ${d.origin} calls of ${party(policy, number)}`;
  };
  return [`Nothing matches: ${side(d.from, 'outbound', 'caller')}, and ${side(d.to, 'inbound', 'callee')}.`];
}

const STRENGTH = { none: 0, manual: 1, auto: 2, force: 3, deny: 3 } as const;

function inactiveRule(policy: Policy, d: CallDecision, hypothetical: CallDecision, allActive: Policy): string[] {
  const id = hypothetical.rule;
  if (id === null || Object.hasOwn(policy.rules, id) || STRENGTH[hypothetical.decision] <= STRENGTH[d.decision]) return [];
  return [`${ruleLabel(allActive.rules[id], id)} would make this call ${hypothetical.decision} (${hypothetical.direction}), but it is inactive ("active": false in rules.json).`];
}

function originSentence(policy: Policy, d: CallDecision, given: string | undefined): string {
  const host = `Decided by the policy of host ${policy.host}.`;
  if (given === 'internal' || given === 'external') return `${capitalized(d.origin)} call, as given to the routine (ARG3). ${host}`;
  if (d.origin === 'internal') return `Internal call: both numbers are internal numbers of the company. ${host}`;
  const outside = [d.from, d.to].filter((n) => !Object.hasOwn(policy.numbers, n)).map((n) => n || '(empty)');
  return `External call: ${outside.length === 1 ? `${outside[0]} is not an internal number` : `${outside.join(' and ')} are not internal numbers`}. ${host}`;
}

function capitalized(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

function ruleLabel(rule: PolicyRule | undefined, id: string): string {
  return rule ? `Rule ${id} '${rule.name}'` : `Rule ${id}`;
}

function roleLabel(rule: PolicyRule | undefined): string {
  if (!rule?.role) return 'its role';
  return rule.roleName ? `role ${rule.role} (${rule.roleName})` : `role ${rule.role}`;
}

function handling(rule: PolicyRule): string {
  const parts = [`kept ${describeRetention(rule)}`];
  if (rule.beep !== undefined) parts.push(`a beep every ${rule.beep} s`);
  if (rule.announcement) parts.push(`announcement ${rule.announcement}`);
  if (rule.deliver.email?.length) parts.push(`mailed to ${rule.deliver.email.join(', ')}`);
  if (rule.deliver.script) parts.push(`handed to ${rule.deliver.script}`);
  return `Recordings: ${parts.join('; ')}.`;
}
