import type { AmiMessage } from './ami-parser.ts';

/**
 * Who is on which call and which channel records which file, rebuilt purely from AMI events (no I/O here).
 *
 * Asterisk facts this relies on (transcripts 07–15, FACTS.md):
 * - MixMonitorStart/Stop carry no file name: the file comes from the channel's MIXMONITOR_FILENAME (VarSet right
 *   before MixMonitorStart) or MITSCHNITT_FILE, the id from MITSCHNITT_MIXMON_ID (MixMonitor's `i()` option).
 * - A call that just hangs up sends no MixMonitorStop: a recording ends with its channel's Hangup.
 * - VarSet names keep the `_`/`__` prefix, ChanVariable headers drop it: variables are stored by bare name.
 * - Blind transfer: BlindTransfer, then the transferer leaves and hangs up; the transferee dials the target.
 *   Attended transfer: BridgeMerge/Enter moves the target to the transferee's bridge, AttendedTransfer, then the
 *   transferer hangs up. Either way a recording on the transferer ends while the call goes on without it.
 * Memory is bounded by the live channels: a channel is dropped at its Hangup, a bridge when it is empty.
 */

export interface TrackedChannel {
  name: string;
  uniqueid: string;
  linkedid: string;
  state: number;
  callerNum: string;
  callerName: string;
  connectedNum: string;
  connectedName: string;
  context: string;
  exten: string;
  /** Channel variables by bare name (without `_`/`__`). */
  vars: Map<string, string>;
  bridge: string | null;
  createdAt: Date;
  /** The channel was created by a Dial (it was a DialBegin's DestChannel): its Exten is the number dialed. */
  dialed: boolean;
}

export interface PartySeen {
  number: string;
  name?: string;
}

export interface ActiveRecording {
  file: string;
  mixmonId: string | null;
  channel: string;
  uniqueid: string;
  linkedid: string;
  startedAt: Date;
  /** Channel variables of the recording channel when it started (MITSCHNITT_*; updated while it runs). */
  vars: Map<string, string>;
  /** Every party that shared a bridge with the recording channel while it recorded, the channel's own first. */
  participants: PartySeen[];
  paused: boolean;
  /** Set by the runtime for recordings it started itself (manual) or continued after a transfer. */
  origin: 'dialplan' | 'manual' | 'continuation';
  previousPart?: string;
}

export interface EndedRecording {
  recording: ActiveRecording;
  reason: 'hangup' | 'stop' | 'vanished';
  endedAt: Date;
}

/** A transferee whose call lost its recording channel: the runtime may record the rest of its call. */
export interface TransferFollow {
  channel: string;
  previous: ActiveRecording;
}

export interface TrackerHooks {
  recordingStarted?(r: ActiveRecording): void;
  recordingEnded?(e: EndedRecording): void;
  /** The transferee is bridged again and nobody in its bridge records. */
  followTransfer?(f: TransferFollow): void;
  /** A channel appeared, changed bridge or recording state, or left. */
  channelChanged?(channel: TrackedChannel): void;
}

const PHONE_TECH = /^(?:PJSIP|SIP|IAX2|DAHDI)\/(.+)-[0-9a-f]+$/;

export class CallTracker {
  readonly channels = new Map<string, TrackedChannel>();
  private readonly bridges = new Map<string, Set<string>>();
  /** Recordings by file path. */
  readonly recordings = new Map<string, ActiveRecording>();
  /** Transferer channel → transferee channel, from Blind/AttendedTransfer until the transferer is gone. */
  private readonly transfers = new Map<string, string>();
  /** Transferee channel → the recording that ended on its transferer. */
  private readonly followers = new Map<string, ActiveRecording>();
  /** Files of MixMonitor actions the runtime sent itself, until their recording shows up. */
  private readonly expected = new Map<string, { origin: ActiveRecording['origin']; previousPart?: string }>();
  /** Uniqueids of channels hung up lately, so a CoreShowChannels list older than their Hangup cannot revive them. */
  private readonly recentlyGone = new Set<string>();
  eventsProcessed = 0;

  constructor(
    private readonly hooks: TrackerHooks = {},
    /** Whether a number is an internal extension (names phone channels like PJSIP/201-…). */
    private readonly isInternal: (number: string) => boolean = () => false,
  ) {}

  handle(m: AmiMessage, now = new Date()): void {
    this.eventsProcessed++;
    switch (m.event) {
      case 'Newchannel':
        this.upsert(m, '', now);
        return;
      case 'VarSet': {
        const ch = this.upsert(m, '', now);
        if (!ch) return;
        const bare = (m.get('Variable') ?? '').replace(/^_{1,2}/, '');
        ch.vars.set(bare, m.get('Value') ?? '');
        for (const r of this.recordingsOn(ch.name)) r.vars.set(bare, m.get('Value') ?? '');
        return;
      }
      case 'DialBegin': {
        this.upsert(m, '', now);
        const dest = this.upsert(m, 'Dest', now);
        if (dest) dest.dialed = true;
        return;
      }
      case 'BridgeEnter': {
        const ch = this.upsert(m, '', now);
        const bridge = m.get('BridgeUniqueid');
        if (ch && bridge) this.enter(ch, bridge);
        return;
      }
      case 'BridgeLeave': {
        const ch = this.upsert(m, '', now);
        if (ch) this.leave(ch);
        return;
      }
      case 'Hangup':
        this.hangup(m.get('Channel') ?? '', now);
        return;
      case 'MixMonitorStart': {
        const ch = this.upsert(m, '', now);
        if (ch) this.startRecording(ch, now, 'dialplan');
        return;
      }
      case 'MixMonitorStop': {
        const ch = this.upsert(m, '', now);
        if (ch) for (const r of this.recordingsOn(ch.name)) this.end(r, 'stop', now);
        return;
      }
      case 'MixMonitorMute': {
        const ch = this.upsert(m, '', now);
        if (!ch) return;
        for (const r of this.recordingsOn(ch.name)) r.paused = m.get('State') === '1';
        this.hooks.channelChanged?.(ch);
        return;
      }
      case 'BlindTransfer':
        if (m.get('Result') === 'Success') this.noteTransfer(m.get('TransfererChannel'), m.get('TransfereeChannel'));
        return;
      case 'AttendedTransfer':
        if (m.get('Result') === 'Success') {
          this.noteTransfer(m.get('OrigTransfererChannel'), m.get('TransfereeChannel'));
          this.noteTransfer(m.get('SecondTransfererChannel'), m.get('TransfereeChannel'));
        }
        return;
      default:
        // Newstate, NewCallerid, NewConnectedLine, Newexten…: keep the snapshot fresh if we know the channel.
        if (m.get('Channel') && m.get('Uniqueid') && this.channels.has(m.get('Channel')!)) this.upsert(m, '', now);
    }
  }

  /**
   * Replaces the channel picture with a CoreShowChannels answer after a (re)connect. Recordings on channels that
   * vanished meanwhile end now ('vanished'); bridges are rebuilt from BridgeId.
   */
  resync(list: AmiMessage[], now = new Date()): void {
    const seen = new Set<string>();
    for (const m of list) {
      if (this.recentlyGone.has(m.get('Uniqueid') ?? '')) continue;
      const ch = this.upsert(m, '', now, true);
      if (!ch) continue;
      seen.add(ch.name);
      const bridge = m.get('BridgeId') ?? '';
      if (ch.bridge !== (bridge || null)) {
        if (ch.bridge) this.leave(ch);
        if (bridge) this.enter(ch, bridge);
      }
    }
    for (const name of [...this.channels.keys()]) if (!seen.has(name)) this.hangup(name, now, 'vanished');
  }

  /** Registers a recording the runtime learned about otherwise (resync Getvar, its own MixMonitor action). */
  adoptRecording(channelName: string, file: string, mixmonId: string | null, origin: ActiveRecording['origin'], now = new Date()): ActiveRecording | null {
    const ch = this.channels.get(channelName);
    if (!ch) return null;
    if (file) ch.vars.set('MIXMONITOR_FILENAME', file);
    if (mixmonId) ch.vars.set('MITSCHNITT_MIXMON_ID', mixmonId);
    return this.startRecording(ch, now, origin);
  }

  /** Announces a MixMonitor the runtime is about to start, so its MixMonitorStart is attributed to it. */
  expectRecording(file: string, origin: ActiveRecording['origin'], previousPart?: string): void {
    this.expected.set(file, previousPart ? { origin, previousPart } : { origin });
  }

  forgetExpected(file: string): void {
    this.expected.delete(file);
  }

  /** Ends one recording on the runtime's word (its own StopMixMonitor succeeded). */
  endRecording(file: string, now = new Date()): void {
    const r = this.recordings.get(file);
    if (r) this.end(r, 'stop', now);
  }

  recordingsOn(channelName: string): ActiveRecording[] {
    const out: ActiveRecording[] = [];
    for (const r of this.recordings.values()) if (r.channel === channelName) out.push(r);
    return out;
  }

  /** Channels that share a bridge or the linkedid with `channelName`, itself included. */
  callOf(channelName: string): TrackedChannel[] {
    const ch = this.channels.get(channelName);
    if (!ch) return [];
    const members = new Set<string>([ch.name]);
    if (ch.bridge) for (const n of this.bridges.get(ch.bridge) ?? []) members.add(n);
    for (const other of this.channels.values()) if (other.linkedid === ch.linkedid) members.add(other.name);
    return [...members].map((n) => this.channels.get(n)!).filter(Boolean);
  }

  bridgePeers(channelName: string): TrackedChannel[] {
    const ch = this.channels.get(channelName);
    if (!ch?.bridge) return [];
    return [...(this.bridges.get(ch.bridge) ?? [])].filter((n) => n !== channelName).map((n) => this.channels.get(n)!).filter(Boolean);
  }

  /** The party a channel stands for: the internal number of a phone channel, the number dialed, or the caller id. */
  partyOf(ch: TrackedChannel): PartySeen {
    const phone = PHONE_TECH.exec(ch.name)?.[1];
    if (phone && this.isInternal(phone)) return { number: phone };
    if (ch.dialed && ch.exten && ch.exten !== 's') return { number: ch.exten };
    if (ch.callerNum && ch.callerNum !== '<unknown>') {
      return ch.callerName && ch.callerName !== '<unknown>' ? { number: ch.callerNum, name: ch.callerName } : { number: ch.callerNum };
    }
    return { number: phone ?? ch.name };
  }

  get size(): { channels: number; bridges: number; recordings: number; followers: number; transfers: number; expected: number } {
    return {
      expected: this.expected.size,
      channels: this.channels.size,
      bridges: this.bridges.size,
      recordings: this.recordings.size,
      followers: this.followers.size,
      transfers: this.transfers.size,
    };
  }

  // ------------------------------------------------------------------------------------------------------------

  private upsert(m: AmiMessage, prefix: string, now: Date, fromList = false): TrackedChannel | null {
    const name = m.get(`${prefix}Channel`);
    const uniqueid = m.get(`${prefix}Uniqueid`);
    if (!name || !uniqueid) return null;
    let ch = this.channels.get(name);
    if (!ch) {
      // A channel first seen mid-call (after a reconnect) is picked up from any event carrying its snapshot.
      ch = {
        name, uniqueid, linkedid: uniqueid, state: 0, callerNum: '', callerName: '', connectedNum: '', connectedName: '',
        context: '', exten: '', vars: new Map(), bridge: null, createdAt: now, dialed: false,
      };
      if (fromList) ch.createdAt = new Date(now.getTime() - parseDuration(m.get('Duration')) * 1000);
      this.channels.set(name, ch);
      this.update(ch, m, prefix);
      this.hooks.channelChanged?.(ch);
      return ch;
    }
    this.update(ch, m, prefix);
    return ch;
  }

  /** One pass over the headers (this runs for nearly every event, so no per-field lookups). */
  private update(ch: TrackedChannel, m: AmiMessage, prefix: string): void {
    const n = prefix.length;
    for (const [key, value] of m.headers) {
      if (n > 0 && !key.startsWith(prefix)) continue;
      switch (n > 0 ? key.slice(n) : key) {
        case 'Uniqueid': ch.uniqueid = value; break;
        case 'Linkedid': ch.linkedid = value; break;
        case 'ChannelState': ch.state = Number(value); break;
        case 'CallerIDNum': ch.callerNum = value; break;
        case 'CallerIDName': ch.callerName = value; break;
        case 'ConnectedLineNum': ch.connectedNum = value; break;
        case 'ConnectedLineName': ch.connectedName = value; break;
        case 'Context': ch.context = value; break;
        // Asterisk blanks Exten of a dialed channel once it is bridged; keep the number dialed.
        case 'Exten': if (value) ch.exten = value; break;
        case 'ChanVariable': {
          const eq = value.indexOf('=');
          if (eq > 0) ch.vars.set(value.slice(0, eq), value.slice(eq + 1));
          break;
        }
      }
    }
  }

  private enter(ch: TrackedChannel, bridge: string): void {
    if (ch.bridge && ch.bridge !== bridge) this.leave(ch);
    let members = this.bridges.get(bridge);
    if (!members) this.bridges.set(bridge, (members = new Set()));
    members.add(ch.name);
    ch.bridge = bridge;
    const inBridge = [...members].map((n) => this.channels.get(n)).filter((c): c is TrackedChannel => !!c);
    for (const member of inBridge) {
      for (const r of this.recordingsOn(member.name)) for (const other of inBridge) addParty(r, this.partyOf(other));
    }
    this.hooks.channelChanged?.(ch);
    this.checkFollowers(bridge);
  }

  private leave(ch: TrackedChannel): void {
    if (!ch.bridge) return;
    const members = this.bridges.get(ch.bridge);
    members?.delete(ch.name);
    if (members && members.size === 0) this.bridges.delete(ch.bridge);
    ch.bridge = null;
    this.hooks.channelChanged?.(ch);
  }

  private hangup(name: string, now: Date, reason: 'hangup' | 'vanished' = 'hangup'): void {
    const ch = this.channels.get(name);
    if (!ch) return;
    this.leave(ch);
    for (const r of this.recordingsOn(name)) this.end(r, reason, now);
    this.channels.delete(name);
    this.recentlyGone.add(ch.uniqueid);
    if (this.recentlyGone.size > 1000) this.recentlyGone.delete(this.recentlyGone.values().next().value!);
    this.transfers.delete(name);
    this.followers.delete(name);
    for (const [from, to] of this.transfers) if (to === name) this.transfers.delete(from);
    this.hooks.channelChanged?.(ch);
  }

  private startRecording(ch: TrackedChannel, now: Date, origin: ActiveRecording['origin']): ActiveRecording | null {
    const file = ch.vars.get('MIXMONITOR_FILENAME') || ch.vars.get('MITSCHNITT_FILE') || '';
    if (!file) return null;
    const existing = this.recordings.get(file);
    if (existing) return existing;
    const expected = this.expected.get(file);
    this.expected.delete(file);
    const r: ActiveRecording = {
      file,
      mixmonId: ch.vars.get('MITSCHNITT_MIXMON_ID') || null,
      channel: ch.name,
      uniqueid: ch.uniqueid,
      linkedid: ch.linkedid,
      startedAt: now,
      vars: new Map(ch.vars),
      participants: [],
      paused: false,
      origin: expected?.origin ?? origin,
    };
    if (expected?.previousPart) r.previousPart = expected.previousPart;
    addParty(r, this.partyOf(ch));
    for (const peer of this.bridgePeers(ch.name)) addParty(r, this.partyOf(peer));
    this.recordings.set(file, r);
    for (const c of this.callOf(ch.name)) this.followers.delete(c.name);
    this.hooks.recordingStarted?.(r);
    this.hooks.channelChanged?.(ch);
    return r;
  }

  private end(r: ActiveRecording, reason: EndedRecording['reason'], now: Date): void {
    if (!this.recordings.delete(r.file)) return;
    const transferee = this.transfers.get(r.channel);
    this.hooks.recordingEnded?.({ recording: r, reason, endedAt: now });
    if (transferee && reason === 'hangup' && this.channels.has(transferee)) {
      this.followers.set(transferee, r);
      const bridge = this.channels.get(transferee)!.bridge;
      if (bridge) this.checkFollowers(bridge);
    }
    const ch = this.channels.get(r.channel);
    if (ch) this.hooks.channelChanged?.(ch);
  }

  private noteTransfer(transferer: string | undefined, transferee: string | undefined): void {
    if (transferer && transferee && transferer !== transferee) this.transfers.set(transferer, transferee);
  }

  /** A follower whose bridge now holds another party and no recording gets its continuation (once). */
  private checkFollowers(bridge: string): void {
    if (this.followers.size === 0) return;
    const members = [...(this.bridges.get(bridge) ?? [])];
    const followers = members.filter((n) => this.followers.has(n));
    if (followers.length === 0) return;
    if (members.some((n) => this.recordingsOn(n).length > 0)) {
      for (const f of followers) this.followers.delete(f);
      return;
    }
    if (members.length < 2) return;
    for (const f of followers) {
      const previous = this.followers.get(f)!;
      this.followers.delete(f);
      this.hooks.followTransfer?.({ channel: f, previous });
    }
  }
}

function addParty(r: ActiveRecording, p: PartySeen): void {
  if (!p.number || r.participants.some((q) => q.number === p.number)) return;
  r.participants.push(p);
}

function parseDuration(text: string | undefined): number {
  const m = /^(\d+):(\d{2}):(\d{2})$/.exec(text ?? '');
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : 0;
}
