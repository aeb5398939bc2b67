import { access } from 'node:fs/promises';
import type { Policy, PolicyNumber, PolicyUser } from '../generator/policy.ts';
import type { AmiResponse } from './ami-client.ts';
import type { ActiveCall, CallControl, ControlResult } from './call-control.ts';
import type { ActiveRecording, CallTracker, TrackedChannel } from './call-tracker.ts';
import type { NewPart, PartControl } from './call-follower.ts';
import { journalPathFor } from './journal.ts';
import type { Logger } from './log.ts';
import { ownRecordingPath, type AudioFormat } from './recording-names.ts';

/** The part of the AMI session this module needs (a test may hand in anything that answers actions). */
export interface AmiActions {
  action(name: string, fields?: Record<string, string>, timeoutMs?: number): Promise<AmiResponse>;
}

export type Toggle = { ok: true; action: 'started' | 'stopped' } | Extract<ControlResult, { ok: false }>;

/** Channels of phones (not Local/ helpers): the legs people are on. */
const PHONE_CHANNEL = /^(?:PJSIP|SIP|IAX2|DAHDI)\//;
const MIXMON_OPTIONS = 'bi(MITSCHNITT_MIXMON_ID)';

/**
 * Manual recording on live calls — for the SNOM key, the DTMF record feature and the web client's red button —
 * and recordings that follow a transfer. Rights, decided from the call's channel variables:
 * - never while any channel of the call says `deny` (MITSCHNITT_DECISION or MDC_MON_MODE);
 * - `force` and `auto` recordings belong to the rules: they cannot be started or stopped by hand;
 * - start/stop needs MITSCHNITT_DECISION=manual, MITSCHNITT_MANUAL=1 or MDC_MON_MODE=manual, and the asking user
 *   must be a party of the call (their own phone channel is in it);
 * - pause/resume (card numbers): on manual and auto recordings, never on `force`.
 * A manual recording is a MixMonitor on the user's own channel, named like the dialplan's recordings but with the
 * start in milliseconds (ownRecordingPath). It also starts and stops the parts of calls that move (call-follower.ts).
 */
export class RecordingControl implements CallControl, PartControl {
  private readonly changeListeners = new Set<(userId: string) => void>();
  private readonly journalListeners = new Set<(journalPath: string) => void>();
  private readonly usersByExt = new Map<string, PolicyUser>();
  /** Channels whose MixMonitor is being started: a second start on the same channel waits for none and is refused. */
  private readonly starting = new Set<string>();
  /** File names handed out and not yet seen as recordings: a name is never given twice. */
  private readonly reserved = new Set<string>();
  /** Recordings being stopped (a moved call and an objection may ask at once). */
  private readonly stopping = new Set<string>();

  constructor(
    private readonly o: {
      ami: AmiActions;
      tracker: CallTracker;
      policy: Policy;
      spool: string;
      log: Logger;
      now?: () => Date;
    },
  ) {
    for (const u of Object.values(o.policy.users)) if (u.host === o.policy.host) this.usersByExt.set(u.ext, u);
  }

  // ------------------------------------------------------------------ CallControl

  activeCalls(userId: string): ActiveCall[] {
    return this.userChannels(userId).map((ch) => {
      const call = this.o.tracker.callOf(ch.name);
      const rec = this.recordingOf(call);
      const peerChannel = this.o.tracker.bridgePeers(ch.name)[0];
      const peer = peerChannel ? this.o.tracker.partyOf(peerChannel) : { number: ch.connectedNum !== '<unknown>' ? ch.connectedNum : '' };
      const known = this.o.policy.numbers[peer.number];
      return {
        id: ch.uniqueid,
        userId,
        channel: ch.name,
        peer: known ? { number: peer.number, name: known.name } : peer,
        direction: ch.dialed ? 'inbound' : 'outbound',
        startedAt: ch.createdAt.toISOString(),
        recording: Boolean(rec),
        paused: rec?.paused ?? false,
        manualAllowed: this.right(call, ch, userId).allowed,
      };
    });
  }

  async startRecording(userId: string, callId: string): Promise<ControlResult> {
    const ch = this.userChannels(userId).find((c) => c.uniqueid === callId);
    if (!ch) return noCall();
    const call = this.o.tracker.callOf(ch.name);
    const right = this.right(call, ch, userId);
    if (!right.allowed) return notAllowed(right.why);
    const existing = this.recordingOf(call);
    if (existing) return { ok: true, recording: true, paused: existing.paused };
    return this.start(ch, userId, { origin: 'manual' });
  }

  async stopRecording(userId: string, callId: string): Promise<ControlResult> {
    const ch = this.userChannels(userId).find((c) => c.uniqueid === callId);
    if (!ch) return noCall();
    const call = this.o.tracker.callOf(ch.name);
    const rec = this.recordingOf(call);
    if (!rec) return { ok: true, recording: false, paused: false };
    if (!isManual(rec)) return notAllowed('this recording was started by a rule and cannot be stopped by hand');
    const right = this.right(call, ch, userId);
    if (!right.allowed) return notAllowed(right.why);
    return this.stop(rec, userId);
  }

  async setPaused(userId: string, callId: string, paused: boolean): Promise<ControlResult> {
    const ch = this.userChannels(userId).find((c) => c.uniqueid === callId);
    if (!ch) return noCall();
    const call = this.o.tracker.callOf(ch.name);
    const rec = this.recordingOf(call);
    if (!rec) return notAllowed('this call is not being recorded');
    if (decisionOf(rec) === 'force' || firstVar(call, ch, 'MDC_MON_MODE').toLowerCase() === 'force') {
      return notAllowed('a forced recording cannot be paused');
    }
    if (!isManual(rec) && decisionOf(rec) !== 'auto') return notAllowed('this recording cannot be paused');
    const r = await this.ami('MixMonitorMute', { Channel: rec.channel, Direction: 'both', State: paused ? '1' : '0' });
    if (!r.ok) return r.result;
    rec.paused = paused;
    this.o.log.info(paused ? 'recording paused' : 'recording resumed', { userId, audio: rec.file });
    this.notifyCall(rec.channel);
    return { ok: true, recording: true, paused };
  }

  onChange(listener: (userId: string) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  onJournal(listener: (journalPath: string) => void): () => void {
    this.journalListeners.add(listener);
    return () => this.journalListeners.delete(listener);
  }

  // ------------------------------------------------------------------ key presses, transfers, notifications

  /** The SNOM key / DTMF feature: start when nothing records the call, stop a manual recording otherwise. */
  async toggle(user: PolicyUser, channel: TrackedChannel): Promise<Toggle> {
    if (this.o.tracker.partyOf(channel).number !== user.ext) return notAllowed(`channel ${channel.name} is not ${user.id}'s`);
    const call = this.o.tracker.callOf(channel.name);
    const rec = this.recordingOf(call);
    const result = rec ? await this.stopRecording(user.id, channel.uniqueid) : await this.startRecording(user.id, channel.uniqueid);
    if (!result.ok) return result;
    return { ok: true, action: result.recording ? 'started' : 'stopped' };
  }

  /** The user a phone channel belongs to (by its party number), if any on this host. */
  userOfChannel(ch: TrackedChannel): PolicyUser | undefined {
    if (!PHONE_CHANNEL.test(ch.name)) return undefined;
    return this.usersByExt.get(this.o.tracker.partyOf(ch).number);
  }

  /** A new part of a call that moved (call-follower.ts): MixMonitor on `ch` for the conversation's new decision. */
  async startPart(ch: TrackedChannel, part: NewPart): Promise<boolean> {
    if (this.o.tracker.objectionOf(this.o.tracker.callOf(ch.name))) return false;
    const result = await this.start(ch, null, { origin: 'continuation', ...part });
    if (!result.ok) this.o.log.error('call moved: could not record the new conversation', { channel: ch.name, reason: result.message });
    return result.ok;
  }

  /** Ends a recording whose conversation is over (the call moved) or that the caller objected to. */
  async stopPart(rec: ActiveRecording, why: string): Promise<boolean> {
    if (this.stopping.has(rec.file) || !this.o.tracker.recordings.has(rec.file)) return false;
    this.stopping.add(rec.file);
    try {
      const r = await this.stopMixMonitor(rec);
      if (r.ok) this.o.log.info('recording stopped', { why, channel: rec.channel, audio: rec.file });
      return r.ok;
    } finally {
      this.stopping.delete(rec.file);
    }
  }

  notifyCall(channelName: string): void {
    if (this.changeListeners.size === 0) return;
    const users = new Set<string>();
    const ch = this.o.tracker.channels.get(channelName);
    const channels = ch ? this.o.tracker.callOf(channelName) : [];
    for (const c of channels) {
      const u = this.userOfChannel(c);
      if (u) users.add(u.id);
    }
    for (const id of users) for (const l of this.changeListeners) l(id);
  }

  /** A channel that is gone can no longer be looked up: tell its user directly. */
  notifyChannelGone(ch: TrackedChannel): void {
    const u = this.userOfChannel(ch);
    if (u) for (const l of this.changeListeners) l(u.id);
  }

  notifyJournal(journalPath: string): void {
    for (const l of this.journalListeners) l(journalPath);
  }

  // ------------------------------------------------------------------ internals

  /** The policy entry of a user's own extension: which calls the rules let them record by hand. */
  private numberOf(userId: string): Member | undefined {
    const user = this.o.policy.users[userId];
    const policy = user ? this.o.policy.numbers[user.ext] : undefined;
    return user && policy ? { ext: user.ext, policy } : undefined;
  }

  private userChannels(userId: string): TrackedChannel[] {
    const user = this.o.policy.users[userId];
    if (!user) return [];
    return [...this.o.tracker.channels.values()].filter((ch) => this.userOfChannel(ch)?.id === userId);
  }

  private recordingOf(call: TrackedChannel[]): ActiveRecording | undefined {
    for (const c of call) {
      const r = this.o.tracker.recordingsOn(c.name)[0];
      if (r) return r;
    }
    return undefined;
  }

  /** Manual rights (rightToRecord), and never on a call someone objected on, even after that channel left. */
  private right(call: TrackedChannel[], ch: TrackedChannel, userId: string): { allowed: true } | { allowed: false; why: string } {
    if (this.o.tracker.objectionOf(call)) return { allowed: false, why: 'the caller objected to recording this call' };
    return rightToRecord(call, ch, this.numberOf(userId));
  }

  private async start(
    ch: TrackedChannel,
    userId: string | null,
    part: { origin: 'manual' | 'continuation' } & Partial<NewPart>,
  ): Promise<ControlResult> {
    if (!/^[0-9]+\.[0-9]+$/.test(ch.uniqueid)) {
      // An Originate with ChannelId can give any uniqueid; it cannot name a file safely.
      return notAllowed(`channel ${ch.name} has a uniqueid that cannot name a recording file`);
    }
    // One start per channel at a time: a double press must not give one channel two MixMonitors.
    if (this.starting.has(ch.name)) return notAllowed('a recording is being started on this call already');
    this.starting.add(ch.name);
    let file = '';
    try {
      file = await this.freeName(ch.uniqueid);
      const rule = part.rule ?? (ch.vars.get('MITSCHNITT_RULE') || '');
      const beep = rule ? this.o.policy.rules[rule]?.beep : undefined;
      const options = beep ? `${MIXMON_OPTIONS}B(${beep})` : MIXMON_OPTIONS;
      this.o.tracker.expectRecording(file, part.origin, part.previousPart, part.conversation, part.vars);
      const r = await this.ami('MixMonitor', { Channel: ch.name, File: file, Options: options });
      if (!r.ok) {
        this.o.tracker.forgetExpected(file);
        return r.result;
      }
      // Not inherited (no `__`): it names this channel's file only (contract: MITSCHNITT_FILE on the recording channel).
      await this.ami('Setvar', { Channel: ch.name, Variable: 'MITSCHNITT_FILE', Value: file });
      // A new part's vars were handed to expectRecording: the tracker gives them to the recording however it shows up.
      this.o.tracker.adoptRecording(ch.name, file, r.response.message.get('MixMonitorID') ?? null, part.origin);
      if (userId) this.o.log.info('manual recording started', { userId, channel: ch.name, audio: file });
      this.notifyCall(ch.name);
      return { ok: true, recording: true, paused: false };
    } finally {
      this.starting.delete(ch.name);
      if (file) this.reserved.delete(file);
    }
  }

  private async stop(rec: ActiveRecording, userId: string): Promise<ControlResult> {
    const r = await this.stopMixMonitor(rec);
    if (!r.ok) return r.result;
    this.o.log.info('manual recording stopped', { userId, channel: rec.channel, audio: rec.file });
    return { ok: true, recording: false, paused: false };
  }

  private async stopMixMonitor(rec: ActiveRecording): Promise<{ ok: true } | { ok: false; result: Extract<ControlResult, { ok: false }> }> {
    const fields: Record<string, string> = { Channel: rec.channel };
    if (rec.mixmonId) fields.MixMonitorID = rec.mixmonId;
    const r = await this.ami('StopMixMonitor', fields);
    if (!r.ok) {
      // Gone already (hung up, stopped by the dialplan's own StopMixMonitor): the tracker ends it from the events.
      return r;
    }
    // Cleared so a resync after a reconnect (or the routine on a redirected channel) does not take this channel for a recording one.
    await this.ami('Setvar', { Channel: rec.channel, Variable: 'MITSCHNITT_MIXMON_ID', Value: '' });
    this.o.tracker.endRecording(rec.file);
    this.notifyCall(rec.channel);
    return { ok: true };
  }

  /**
   * A name nobody has used: `<uniqueid>-<epoch ms>` (ownRecordingPath). Reserved before the first await, so two
   * starts at once never share one; a name taken by a recording, a file or a journal moves on by a millisecond
   * (only possible for starts within the same millisecond, so the name stays true to the start).
   */
  private async freeName(uniqueid: string): Promise<string> {
    const format = this.o.policy.settings.format as AudioFormat;
    let epochMs = (this.o.now?.() ?? new Date()).getTime();
    for (;;) {
      const path = ownRecordingPath(this.o.spool, uniqueid, epochMs, format);
      if (!this.reserved.has(path) && !this.o.tracker.recordings.has(path)) {
        this.reserved.add(path);
        if (!(await exists(path)) && !(await exists(journalPathFor(path)))) return path;
        this.reserved.delete(path);
      }
      epochMs++;
    }
  }

  private async ami(
    name: string,
    fields: Record<string, string>,
  ): Promise<{ ok: true; response: AmiResponse } | { ok: false; result: Extract<ControlResult, { ok: false }> }> {
    try {
      const response = await this.o.ami.action(name, fields);
      if (response.ok) return { ok: true, response };
      const message = response.message.get('Message') ?? 'Asterisk refused the action';
      this.o.log.warn('AMI action refused', { action: name, channel: fields.Channel, message });
      return { ok: false, result: { ok: false, reason: 'ami-error', message: `${name}: ${message}` } };
    } catch (err) {
      this.o.log.error('AMI action failed', { action: name, channel: fields.Channel, error: err });
      return { ok: false, result: { ok: false, reason: 'ami-error', message: (err as Error).message } };
    }
  }
}

/** The asking user's extension and what the policy says about it. */
export interface Member {
  ext: string;
  policy: PolicyNumber;
}

/**
 * Whether the asking user may record this call by hand, judged from the call's variables (the asking user's
 * channel first, then the others) and the user's own policy entry: a rule's manual right belongs to the
 * role's members, so when the dialplan decided `manual` by a rule, only a party whose own number has a manual
 * cell for this call (as caller: outbound, otherwise inbound; at the call's origin) may start or stop it.
 * MDC_MON_MODE=manual (an IVR's choice, no rule) allows every party of the call.
 */
export function rightToRecord(
  call: TrackedChannel[],
  own: TrackedChannel,
  member: Member | undefined,
): { allowed: true } | { allowed: false; why: string } {
  const any = (name: string, value: string) => call.some((c) => (c.vars.get(name) ?? '').toLowerCase() === value);
  if (any('MITSCHNITT_DECISION', 'deny') || any('MDC_MON_MODE', 'deny')) return { allowed: false, why: 'recording is denied for this call' };
  const decision = firstVar(call, own, 'MITSCHNITT_DECISION');
  const mdc = firstVar(call, own, 'MDC_MON_MODE').toLowerCase();
  if (decision === 'force' || mdc === 'force') return { allowed: false, why: 'this call is recorded by force and cannot be changed by hand' };
  if (decision === 'auto') return { allowed: false, why: 'this call is recorded automatically by a rule' };
  const rule = firstVar(call, own, 'MITSCHNITT_RULE');
  if (mdc === 'manual' || (decision === 'manual' && !rule)) return { allowed: true };
  if (decision !== 'manual' && firstVar(call, own, 'MITSCHNITT_MANUAL') !== '1') {
    return { allowed: false, why: 'no rule allows manual recording of this call' };
  }
  if (!member) return { allowed: false, why: 'you have no extension on this host' };
  const side = firstVar(call, own, 'MITSCHNITT_CALLER') === member.ext ? 'outbound' : 'inbound';
  const origin = firstVar(call, own, 'MITSCHNITT_ORIGIN') === 'internal' ? 'internal' : 'external';
  if (member.policy[side][origin].decision === 'manual') return { allowed: true };
  return { allowed: false, why: 'the rule lets another party of this call record it, not you' };
}

function firstVar(call: TrackedChannel[], own: TrackedChannel, name: string): string {
  const mine = own.vars.get(name);
  if (mine) return mine;
  for (const c of call) {
    const v = c.vars.get(name);
    if (v) return v;
  }
  return '';
}

function decisionOf(rec: ActiveRecording): string {
  return rec.origin === 'manual' ? 'manual' : rec.vars.get('MITSCHNITT_DECISION') ?? '';
}

function isManual(rec: ActiveRecording): boolean {
  return decisionOf(rec) === 'manual';
}

function noCall(): Extract<ControlResult, { ok: false }> {
  return { ok: false, reason: 'no-call', message: 'no such active call of this user' };
}

function notAllowed(message: string): Extract<ControlResult, { ok: false }> {
  return { ok: false, reason: 'not-allowed', message };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}
