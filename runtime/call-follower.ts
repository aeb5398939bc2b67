import { decide, type CallDecision } from '../generator/decide.ts';
import type { Policy } from '../generator/policy.ts';
import { sameParties, type ActiveRecording, type CallTracker, type TrackedChannel } from './call-tracker.ts';
import type { Logger } from './log.ts';
import { recordingId } from './recording-names.ts';

/** What the follower needs from the recording control: start a part on a channel, stop one. */
export interface PartControl {
  startPart(channel: TrackedChannel, part: NewPart): Promise<boolean>;
  stopPart(recording: ActiveRecording, why: string): Promise<boolean>;
}

export interface NewPart {
  conversation: string[];
  previousPart?: string;
  /** MITSCHNITT_* values the part's journal is made of (the decision for the new pair). */
  vars: Record<string, string>;
  rule: string | null;
}

/** Decisions that mean "MixMonitor runs". */
const RECORDS = new Set(['auto', 'force']);
const PHONE = /^(?:PJSIP|SIP|IAX2|DAHDI)\//;

/**
 * Recording follows the call as it really moves (README "Calls that move"). A conversation is who is in a
 * bridge (Local halves looked through). Whenever that changes — transfer, Redirect of either leg, pickup,
 * forward, queue or ring-group answer, retrieval from a park — the conversation is judged again, after it has
 * been still for a moment (Asterisk swaps channels in bursts):
 * - a recording made for other parties ends there (it never continues into a conversation no rule covers);
 * - the conversation's decision: the dialplan's own when its parties are the pair the routine decided for,
 *   else decide() for the new pair (the older line is the caller, the newcomer the callee), with MDC_MON_MODE
 *   force/deny/manual and an inherited deny or force travelling with the call;
 * - `auto`/`force` with nothing recording it: a new part starts, linked to the call's previous part;
 * - an objection (deny) on the call stops every recording and starts nothing.
 * Conferences (ConfBridge) and holding bridges (parking) are not re-judged: each member's own leg was decided
 * by the routine when it joined, and its recording follows that member.
 */
export class CallFollower {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Last recording id per call (linkedid), to link the next part to it. */
  private readonly lastPart = new Map<string, string>();
  private readonly busy = new Set<string>();
  /** Dialplan recordings whose first conversation was checked against the pair the routine decided for. */
  private readonly firstChecked = new Set<string>();
  private closed = false;

  constructor(
    private readonly o: {
      tracker: CallTracker;
      policy: Policy;
      control: PartControl;
      log: Logger;
      /** How long a bridge must stay unchanged before it is judged (default 200 ms). */
      settleMs?: number;
    },
  ) {}

  recordingStarted(r: ActiveRecording): void {
    this.lastPart.set(r.linkedid, recordingId(r.file));
    if (this.lastPart.size > 10_000) this.lastPart.delete(this.lastPart.keys().next().value!);
  }

  bridgeChanged(bridgeId: string): void {
    if (this.closed) return;
    clearTimeout(this.timers.get(bridgeId));
    const timer = setTimeout(() => {
      this.timers.delete(bridgeId);
      void this.judge(bridgeId).catch((err: unknown) => this.o.log.error('judging a conversation failed', { bridge: bridgeId, error: err }));
    }, this.o.settleMs ?? 200);
    timer.unref();
    this.timers.set(bridgeId, timer);
  }

  /** A deny on the call: every recording of it stops now (the dialplan stops its own channel's as well). */
  async objection(channel: TrackedChannel): Promise<void> {
    const { tracker } = this.o;
    const call = new Map(tracker.callOf(channel.name).map((c) => [c.name, c]));
    for (const c of [...call.values()]) if (c.bridge) for (const m of tracker.conversation(c.bridge).channels) call.set(m.name, m);
    const recordings = [...call.keys()].flatMap((n) => tracker.recordingsOn(n));
    this.o.log.info('objection: the call denies recording; stopping its recordings', { channel: channel.name, recordings: recordings.map((r) => r.file) });
    await Promise.all(recordings.map((r) => this.o.control.stopPart(r, 'objection')));
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** Judges the conversation around a bridge (see the class comment). */
  async judge(bridgeId: string): Promise<void> {
    const { tracker } = this.o;
    const conv = tracker.conversation(bridgeId);
    const key = conv.bridges.slice().sort().join(' ');
    if (conv.bridges.length === 0 || this.busy.has(key)) return;
    if (conv.bridges.some((b) => /holding/.test(tracker.bridge(b)?.technology ?? ''))) {
      // Parked (or another holding bridge): the party waits alone, nobody talks; whoever takes it next is a new
      // conversation. A MixMonitor left running would record the hold music into the old part.
      const held = conv.channels.flatMap((c) => tracker.recordingsOn(c.name));
      for (const r of held) {
        this.o.log.info('call moved: the recording ends, its party is parked', { audio: r.file });
        await this.o.control.stopPart(r, 'parked');
      }
      return;
    }
    if (tracker.isConference(conv.bridges)) return;
    if (conv.parties.length !== 2) return; // one party waits (hold, ringing); three in a basic bridge is a swap in progress
    const call = tracker.callOf(conv.channels[0]!.name);
    const recordings = conv.channels.flatMap((c) => tracker.recordingsOn(c.name));
    this.busy.add(key);
    try {
      if (tracker.objectionOf(call)) {
        await Promise.all(recordings.map((r) => this.o.control.stopPart(r, 'objection')));
        return;
      }
      let covered = false;
      for (const r of recordings) {
        r.conversation ??= conv.parties;
        if (!sameParties(r.conversation, conv.parties)) {
          this.o.log.info('call moved: the recording ends, its parties are no longer talking', { audio: r.file, was: r.conversation, now: conv.parties });
          await this.o.control.stopPart(r, 'moved');
        } else if (await this.answeredElsewhere(r, conv.partyChannels, conv.parties, call)) {
          this.o.log.info('call moved: the recording ends, the call was answered by a party no rule covers', { audio: r.file, decidedFor: [r.vars.get('MITSCHNITT_CALLER'), r.vars.get('MITSCHNITT_CALLEE')], now: conv.parties });
          await this.o.control.stopPart(r, 'moved');
        } else covered = true;
      }
      if (covered) return;
      const decision = this.decisionFor(conv.partyChannels, conv.parties, call);
      if (!RECORDS.has(decision.vars.MITSCHNITT_DECISION ?? '')) {
        if (recordings.length > 0) this.o.log.info('call moved: the new conversation is not recorded', { parties: conv.parties, decision: decision.vars.MITSCHNITT_DECISION });
        return;
      }
      const host = this.hostChannel(conv.partyChannels, decision);
      if (!host) return;
      const previousPart = call.map((c) => this.lastPart.get(c.linkedid)).find(Boolean);
      const part: NewPart = { conversation: conv.parties, vars: decision.vars, rule: decision.rule, ...(previousPart ? { previousPart } : {}) };
      if (await this.o.control.startPart(host, part)) {
        this.o.log.info('call moved: recording the new conversation', { channel: host.name, parties: conv.parties, decision: decision.vars.MITSCHNITT_DECISION, rule: decision.rule, previousPart });
      }
    } finally {
      this.busy.delete(key);
    }
  }

  /**
   * A routine's recording first bridged with parties other than the pair it decided for (a forward, a pickup,
   * a queue agent, a ring-group member): it goes on if the new pair is covered too, or if the number the routine
   * decided for is a team line (a call to a recorded team's number is that team's, whoever answers); otherwise
   * the call went somewhere no rule covers and it ends. Checked once per recording.
   */
  private async answeredElsewhere(r: ActiveRecording, partyChannels: TrackedChannel[], parties: string[], call: TrackedChannel[]): Promise<boolean> {
    if (r.origin !== 'dialplan' || this.firstChecked.has(r.file)) return false;
    this.firstChecked.add(r.file);
    if (this.firstChecked.size > 10_000) this.firstChecked.delete(this.firstChecked.values().next().value!);
    const decided = [r.vars.get('MITSCHNITT_CALLER') ?? '', r.vars.get('MITSCHNITT_CALLEE') ?? ''].sort();
    if (!decided[0] && !decided[1]) return false; // not ours to judge (no routine decision on it)
    if (sameParties(decided, parties)) return false;
    const team = (n: string) => this.o.policy.numbers[n]?.kind === 'team';
    if (decided.some(team)) return false;
    const fresh = this.decisionFor(partyChannels, parties, call, true);
    return !RECORDS.has(fresh.vars.MITSCHNITT_DECISION ?? '');
  }

  /**
   * The decision for a conversation. When its parties are the pair the routine decided for (MITSCHNITT_CALLER /
   * CALLEE on its channels), the routine's decision stands; otherwise decide() for the new pair.
   */
  private decisionFor(partyChannels: TrackedChannel[], parties: string[], call: TrackedChannel[], fresh = false): { vars: Record<string, string>; rule: string | null } {
    const first = (name: string) => partyChannels.map((c) => c.vars.get(name) ?? '').find(Boolean) ?? '';
    const decided = [first('MITSCHNITT_CALLER'), first('MITSCHNITT_CALLEE')].sort();
    const own = first('MITSCHNITT_DECISION');
    if (!fresh && own && sameParties(decided, parties) && own !== 'deny') {
      const vars: Record<string, string> = {};
      for (const c of partyChannels) for (const [k, v] of c.vars) if (k.startsWith('MITSCHNITT_') && v && !(k in vars)) vars[k] = v;
      delete vars.MITSCHNITT_FILE;
      delete vars.MITSCHNITT_MIXMON_ID;
      return { vars, rule: vars.MITSCHNITT_RULE || null };
    }
    // The line that was there first is the caller; the one that joined (transfer target, agent, picker) the callee.
    const ordered = [...partyChannels].sort(olderFirst);
    const callerChannel = ordered[0]!;
    const calleeChannel = ordered.find((c) => this.o.tracker.partyOf(c).number !== this.o.tracker.partyOf(callerChannel).number)!;
    const anyVar = (name: string) => call.map((c) => c.vars.get(name)).find((v) => v !== undefined && v !== '');
    const mode = anyVar('MDC_MON_MODE');
    const inheritedVals = call.map((c) => c.vars.get('MITSCHNITT_DECISION'));
    const inherited = inheritedVals.includes('deny') ? 'deny' : inheritedVals.includes('force') ? 'force' : undefined;
    const d: CallDecision = decide(this.o.policy, {
      from: this.o.tracker.partyOf(callerChannel).number,
      to: this.o.tracker.partyOf(calleeChannel).number,
      ...(mode !== undefined ? { mode } : {}),
      ...(inherited ? { inherited } : {}),
    });
    const vars: Record<string, string> = {
      MITSCHNITT_DECISION: d.decision,
      MITSCHNITT_CALLER: d.from,
      MITSCHNITT_CALLEE: d.to,
      MITSCHNITT_ORIGIN: d.origin,
    };
    if (d.rule) vars.MITSCHNITT_RULE = d.rule;
    if (d.direction) vars.MITSCHNITT_DIRECTION = d.direction;
    return { vars, rule: d.rule };
  }

  /**
   * Where the new part's MixMonitor runs: the phone of the member whose rule decided (caller for outbound, callee
   * for inbound), else any phone, else any line of the conversation.
   */
  private hostChannel(partyChannels: TrackedChannel[], d: { vars: Record<string, string> }): TrackedChannel | undefined {
    const member = d.vars.MITSCHNITT_DIRECTION === 'inbound' ? d.vars.MITSCHNITT_CALLEE : d.vars.MITSCHNITT_DIRECTION === 'outbound' ? d.vars.MITSCHNITT_CALLER : undefined;
    const number = (c: TrackedChannel) => this.o.tracker.partyOf(c).number;
    return (
      partyChannels.find((c) => PHONE.test(c.name) && member !== undefined && number(c) === member) ??
      partyChannels.find((c) => PHONE.test(c.name)) ??
      partyChannels[0]
    );
  }
}

/** Asterisk's uniqueids are `<epoch>.<sequence>`: creation order within one Asterisk, also across a reconnect. */
function olderFirst(a: TrackedChannel, b: TrackedChannel): number {
  const [ae = 0, as = 0] = a.uniqueid.split('.').map(Number);
  const [be = 0, bs = 0] = b.uniqueid.split('.').map(Number);
  return ae - be || as - bs || a.createdAt.getTime() - b.createdAt.getTime();
}
