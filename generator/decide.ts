import type { Cell, Direction, Origin, Policy, PolicyNumber } from './policy.ts';

export type FinalDecision = 'force' | 'deny' | 'auto' | 'manual' | 'none';

export interface CallQuestion {
  /** The caller's number as the dialplan passes it (ARG1). */
  from: string;
  /** The callee's number (ARG2). */
  to: string;
  /** ARG3: exactly `internal` or `external`; anything else (or nothing) lets the numbers decide. */
  origin?: string;
  /** The channel variable MDC_MON_MODE as it is on the channel (undefined = not set). */
  mode?: string;
  /**
   * MITSCHNITT_DECISION as the channel already carries it, inherited from the channel that created it (Dial,
   * Queue, Local) or left by an earlier pass of the routine; undefined = not set.
   */
  inherited?: string;
}

export interface CallDecision {
  decision: FinalDecision;
  rule: string | null;
  /** From the recorded member's view; null for none, deny, force and manual-by-MDC_MON_MODE. */
  direction: Direction | null;
  origin: Origin;
  /** The sanitized numbers. */
  from: string;
  to: string;
  /** The steps that led to the decision, one sentence each. */
  reason: string[];
  warning?: string;
}

/**
 * What the dialplan does with Asterisk's FILTER(0-9*#+,…): every other character is dropped, so
 * "+49 (30) 123-45" becomes "+493012345". Both the lookup and the recorded numbers use this form.
 */
export function sanitizeNumber(raw: string): string {
  return raw.replace(/[^0-9*#+]/g, '');
}

/**
 * THE reference semantics of the dialplan routine `mitschnitt-check` (the dialplan must decide the same):
 * 0. A deny is call-wide and final: MDC_MON_MODE exactly `deny`, or an inherited MITSCHNITT_DECISION `deny`,
 *    decides `deny` before anything else (a recording running on the channel is stopped). An inherited `auto`
 *    or `force` means the call already records upstream: that decision stands and nothing new starts.
 *    An inherited `manual` (or `none`) counts for nothing: this channel's own numbers decide afresh.
 * 1. MDC_MON_MODE exactly `force` / `deny` / `manual` decides alone (case-sensitive; rules are skipped);
 *    unset, empty or `auto` lets the rules decide; any other value does too, with a warning.
 * 2. Origin: ARG3 if it is exactly `internal` or `external`; otherwise `internal` exactly when both sanitized
 *    numbers are internal numbers of the company (on any host), else `external`. Computed in every case.
 * 3. Caller side = the caller's outbound cell for that origin, callee side = the callee's inbound cell;
 *    a number not in the policy counts as `none`. `auto` on either side wins, then `manual`, else `none`;
 *    when both sides have the winning decision the caller's side (its rule, direction outbound) wins.
 */
export function decide(policy: Policy, question: CallQuestion): CallDecision {
  const from = sanitizeNumber(question.from);
  const to = sanitizeNumber(question.to);
  const caller = lookup(policy, from);
  const callee = lookup(policy, to);
  const reason: string[] = [];
  let warning: string | undefined;

  let origin: Origin;
  if (question.origin === 'internal' || question.origin === 'external') {
    origin = question.origin;
    reason.push(`origin ${origin} was given`);
  } else {
    if (question.origin !== undefined && question.origin !== '') {
      warning = `origin '${question.origin}' is neither 'internal' nor 'external'; derived from the numbers instead`;
    }
    origin = caller && callee ? 'internal' : 'external';
    reason.push(caller && callee ? 'origin internal: both numbers are internal numbers of the company' : `origin external: ${!caller ? `caller ${from || '(empty)'}` : `callee ${to || '(empty)'}`} is not an internal number`);
  }

  const mode = question.mode;
  // The dialplan compares the letters-only form of its own variable (FILTER(a-z,…)).
  const inherited = (question.inherited ?? '').replace(/[^a-z]/g, '');
  if (mode !== 'deny' && inherited === 'deny') {
    reason.push('MITSCHNITT_DECISION deny was inherited: a deny decided upstream holds for the whole call');
    return result('deny', null, null);
  }
  if (mode !== 'deny' && (inherited === 'auto' || inherited === 'force')) {
    reason.push(`MITSCHNITT_DECISION ${inherited} was inherited: the call already records upstream, nothing new starts here`);
    return result(inherited, null, null);
  }
  if (mode === 'force' || mode === 'deny' || mode === 'manual') {
    reason.push(`MDC_MON_MODE is '${mode}': the channel's mode decides, rules are not consulted`);
    return result(mode, null, null);
  }
  if (mode === undefined || mode === '' || mode === 'auto') {
    reason.push(mode === undefined ? 'MDC_MON_MODE is not set: the rules decide' : `MDC_MON_MODE is '${mode}': the rules decide`);
  } else {
    const modeWarning = `MDC_MON_MODE '${mode}' is not one of force, deny, manual, auto (case-sensitive); the rules decide`;
    warning = warning ? `${warning}; ${modeWarning}` : modeWarning;
    reason.push(`MDC_MON_MODE '${mode}' is unknown: the rules decide`);
  }

  const callerCell: Cell = caller?.outbound[origin] ?? { decision: 'none' };
  const calleeCell: Cell = callee?.inbound[origin] ?? { decision: 'none' };
  reason.push(describeSide(policy, 'caller', from, caller, 'outbound', origin, callerCell));
  reason.push(describeSide(policy, 'callee', to, callee, 'inbound', origin, calleeCell));

  for (const decision of ['auto', 'manual'] as const) {
    if (callerCell.decision === decision) {
      if (calleeCell.decision === decision) reason.push(`both sides are ${decision}: the caller's side wins`);
      return result(decision, callerCell.rule ?? null, 'outbound');
    }
    if (calleeCell.decision === decision) return result(decision, calleeCell.rule ?? null, 'inbound');
  }
  return result('none', null, null);

  function result(decision: FinalDecision, rule: string | null, direction: Direction | null): CallDecision {
    return { decision, rule, direction, origin, from, to, reason, ...(warning === undefined ? {} : { warning }) };
  }
}

function lookup(policy: Policy, number: string): PolicyNumber | undefined {
  return Object.hasOwn(policy.numbers, number) ? policy.numbers[number] : undefined;
}

function describeSide(policy: Policy, side: string, number: string, entry: PolicyNumber | undefined, direction: Direction, origin: Origin, cell: Cell): string {
  if (!entry) return `${side} ${number || '(empty)'} is not an internal number: none`;
  const who = `${side} ${number} (${entry.kind} ${entry.id})`;
  if (entry.host !== policy.host) return `${who} lives on host ${entry.host}, not ${policy.host}: none here`;
  if (cell.decision === 'none') return `${who}: no active rule covers its ${direction} ${origin} calls: none`;
  return `${who}: ${direction} ${origin} calls are ${cell.decision} by rule ${cell.rule}${cell.others ? ` (also covered by ${cell.others.join(', ')})` : ''}`;
}
