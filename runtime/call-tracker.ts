import type { AmiMessage } from './ami-parser.ts';

/**
 * Who is on which call and which channel records which file, rebuilt purely from AMI events (no I/O here).
 *
 * Asterisk facts this relies on (transcripts 07–15, FACTS.md):
 * - MixMonitorStart/Stop carry no file name: the file comes from the channel's MIXMONITOR_FILENAME (VarSet right
 *   before MixMonitorStart) or MITSCHNITT_FILE, the id from MITSCHNITT_MIXMON_ID (MixMonitor's `i()` option).
 * - A call that just hangs up sends no MixMonitorStop: a recording ends with its channel's Hangup.
 * - VarSet names keep the `_`/`__` prefix, ChanVariable headers drop it: variables are stored by bare name.
 * - A MixMonitor stays on its channel whatever that channel is bridged to next (Redirect, transfer, pickup): who
 *   is talking is read from bridge membership, never assumed from the call's set-up. Bridges joined by the two
 *   halves of a Local channel (`Local/…;1` / `;2`) are one conversation until Asterisk optimizes the pair away.
 * - A deny (VarSet of MITSCHNITT_DECISION to `deny`, prefixed or not) is an objection for the whole call.
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
  /** The number a Dial asked for, fixed at DialBegin (a later Redirect changes Exten, not whom the line reaches). */
  dialedNumber?: string;
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
  /** Set by the runtime for recordings it started itself (manual) or as a new part after the call moved. */
  origin: 'dialplan' | 'manual' | 'continuation';
  previousPart?: string;
  /**
   * The parties (numbers, sorted) of the conversation this recording covers: those in its bridge the first time
   * it was bridged with someone. When its bridge holds other parties, the call moved and this part is over.
   */
  conversation?: string[];
  /** Set when a deny on the call (the caller objected) ended this recording. */
  objectedAt?: Date;
}

export interface EndedRecording {
  recording: ActiveRecording;
  reason: 'hangup' | 'stop' | 'vanished';
  endedAt: Date;
}

export interface TrackerHooks {
  recordingStarted?(r: ActiveRecording): void;
  recordingEnded?(e: EndedRecording): void;
  /** Who is in a bridge changed (enter, leave, hang-up): the conversation there may be a new one. */
  bridgeChanged?(bridgeId: string): void;
  /** A deny was set on a channel of a call that still has recordings or may be recorded by hand. */
  objection?(channel: TrackedChannel, at: Date): void;
  /** A channel appeared, changed bridge or recording state, or left. */
  channelChanged?(channel: TrackedChannel): void;
}

export interface BridgeInfo {
  id: string;
  /** `simple_bridge`, `native_rtp`, `softmix` (ConfBridge), `holding_bridge` (parking, …). */
  technology: string;
  type: string;
  members: Set<string>;
}

const PHONE_TECH = /^(?:PJSIP|SIP|IAX2|DAHDI)\/(.+)-[0-9a-f]+$/;
/** A number a party can be reached at, as opposed to `s`, a name or a channel. */
const DIALABLE = /^[0-9*#+]+$/;
/** `Local/<exten>@<context>-<n>;1|2`: the two halves of a Local channel. */
const LOCAL = /^Local\/([^@]+)@(.+)-[0-9a-f]+;([12])$/;

export class CallTracker {
  readonly channels = new Map<string, TrackedChannel>();
  private readonly bridges = new Map<string, BridgeInfo>();
  /** Recordings by file path. */
  readonly recordings = new Map<string, ActiveRecording>();
  /** Calls (by linkedid) on which someone objected (deny), with the moment: nothing records them again. */
  private readonly objections = new Map<string, Date>();
  /** Files of MixMonitor actions the runtime sent itself, until their recording shows up. */
  private readonly expected = new Map<string, { origin: ActiveRecording['origin']; previousPart?: string; conversation?: string[]; vars?: Record<string, string> }>();
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
        const value = m.get('Value') ?? '';
        ch.vars.set(bare, value);
        if (bare === 'MITSCHNITT_DECISION' && value === 'deny') this.object(ch, now);
        // An objected recording keeps the decision it was made under (the routine's deny MSet blanks rule etc.).
        for (const r of this.recordingsOn(ch.name)) if (!r.objectedAt) r.vars.set(bare, value);
        return;
      }
      case 'DialBegin': {
        this.upsert(m, '', now);
        const dest = this.upsert(m, 'Dest', now);
        if (dest) {
          dest.dialed = true;
          const number = m.get('DestExten') ?? '';
          if (!dest.dialedNumber && DIALABLE.test(number)) dest.dialedNumber = number;
        }
        return;
      }
      case 'BridgeEnter': {
        const ch = this.upsert(m, '', now);
        const bridge = m.get('BridgeUniqueid');
        if (ch && bridge) this.enter(ch, bridge, m.get('BridgeTechnology') ?? '', m.get('BridgeType') ?? '');
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
      if (ch.vars.get('MITSCHNITT_DECISION') === 'deny' && !this.objections.has(ch.linkedid)) this.object(ch, now);
      const bridge = m.get('BridgeId') ?? '';
      if (ch.bridge !== (bridge || null)) {
        if (ch.bridge) this.leave(ch);
        if (bridge) this.enter(ch, bridge, '', '');
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

  /**
   * Announces a MixMonitor the runtime is about to start, so its MixMonitorStart is attributed to it.
   * `vars`: the MITSCHNITT_* values the recording stands for (a new part's decision), applied when it shows up,
   * also if its channel is gone before the runtime's own follow-up actions are answered.
   */
  expectRecording(file: string, origin: ActiveRecording['origin'], previousPart?: string, conversation?: string[], vars?: Record<string, string>): void {
    this.expected.set(file, { origin, ...(previousPart ? { previousPart } : {}), ...(conversation ? { conversation } : {}), ...(vars ? { vars } : {}) });
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

  /** Channels that share a conversation (bridges joined through Local channels) or the linkedid with `channelName`. */
  callOf(channelName: string): TrackedChannel[] {
    const ch = this.channels.get(channelName);
    if (!ch) return [];
    const members = new Set<string>([ch.name]);
    if (ch.bridge) for (const c of this.conversation(ch.bridge).channels) members.add(c.name);
    for (const other of this.byLinkedid.get(ch.linkedid) ?? []) members.add(other);
    return [...members].map((n) => this.channels.get(n)!).filter(Boolean);
  }

  /** The other channels of `channelName`'s conversation that stand for a party (Local halves are looked through). */
  bridgePeers(channelName: string): TrackedChannel[] {
    const ch = this.channels.get(channelName);
    if (!ch?.bridge) return [];
    return this.conversation(ch.bridge).partyChannels.filter((c) => c.name !== channelName);
  }

  bridge(id: string): BridgeInfo | undefined {
    return this.bridges.get(id);
  }

  /**
   * One conversation: the bridge, and every bridge reached through a Local channel's other half (an Atxfer or a
   * Dial through `Local/…` bridges the caller with `;1` while `;2` is bridged with the phone until Asterisk
   * optimizes the pair away). `partyChannels` are the channels that stand for people: every non-Local member, and
   * a Local half whose other half is not bridged (it leads to dialplan, e.g. a carrier route); `parties` their
   * numbers, sorted and unique.
   */
  conversation(bridgeId: string): { bridges: string[]; channels: TrackedChannel[]; partyChannels: TrackedChannel[]; parties: string[] } {
    const seenBridges: string[] = [];
    const channels: TrackedChannel[] = [];
    const todo = [bridgeId];
    while (todo.length > 0) {
      const id = todo.pop()!;
      if (seenBridges.includes(id)) continue;
      const info = this.bridges.get(id);
      if (!info) continue;
      seenBridges.push(id);
      for (const name of info.members) {
        const ch = this.channels.get(name);
        if (!ch) continue;
        channels.push(ch);
        const partner = this.localPartner(ch);
        if (partner?.bridge && !seenBridges.includes(partner.bridge)) todo.push(partner.bridge);
      }
    }
    const partyChannels = channels.filter((c) => !LOCAL.test(c.name) || !this.localPartner(c)?.bridge);
    const parties = [...new Set(partyChannels.map((c) => this.partyOf(c).number).filter(Boolean))].sort();
    return { bridges: seenBridges, channels, partyChannels, parties };
  }

  /**
   * The party a channel stands for: the internal number of a phone channel, the number its Dial asked for, the
   * extension a Local channel was created for, or the caller id. Never a channel name: a line without a number
   * is `''` (and left out of participants).
   */
  partyOf(ch: TrackedChannel): PartySeen {
    const phone = PHONE_TECH.exec(ch.name)?.[1];
    if (phone && this.isInternal(phone)) return { number: phone };
    const local = LOCAL.exec(ch.name);
    if (local) {
      // ;1 reaches what its extension dials; ;2 stands for whoever called through the pair.
      if (local[3] === '1' && DIALABLE.test(local[1]!)) return { number: local[1]! };
      const partner = this.localPartner(ch);
      const beyond = partner?.bridge ? this.conversation(partner.bridge).partyChannels.find((c) => c.name !== partner.name) : undefined;
      if (beyond) return this.partyOf(beyond);
    }
    if (ch.dialedNumber) return { number: ch.dialedNumber };
    if (ch.callerNum && ch.callerNum !== '<unknown>' && DIALABLE.test(ch.callerNum)) {
      return ch.callerName && ch.callerName !== '<unknown>' ? { number: ch.callerNum, name: ch.callerName } : { number: ch.callerNum };
    }
    return { number: '' };
  }

  /** When someone objected on this call (linkedid), if anyone did. */
  objectionOf(call: TrackedChannel[]): Date | undefined {
    for (const c of call) {
      const at = this.objections.get(c.linkedid);
      if (at) return at;
    }
    return undefined;
  }

  get size(): { channels: number; bridges: number; recordings: number; objections: number; expected: number } {
    return {
      expected: this.expected.size,
      channels: this.channels.size,
      bridges: this.bridges.size,
      recordings: this.recordings.size,
      objections: this.objections.size,
    };
  }

  // ------------------------------------------------------------------------------------------------------------

  /** Channel names by linkedid: callOf runs for nearly every event, a scan of all channels made it quadratic. */
  private readonly byLinkedid = new Map<string, Set<string>>();

  private link(ch: TrackedChannel): void {
    let names = this.byLinkedid.get(ch.linkedid);
    if (!names) this.byLinkedid.set(ch.linkedid, (names = new Set()));
    names.add(ch.name);
  }

  private unlink(ch: TrackedChannel): void {
    const names = this.byLinkedid.get(ch.linkedid);
    names?.delete(ch.name);
    if (names?.size === 0) this.byLinkedid.delete(ch.linkedid);
  }

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
      this.link(ch);
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
        case 'Linkedid':
          if (ch.linkedid !== value) {
            this.unlink(ch);
            ch.linkedid = value;
            this.link(ch);
          }
          break;
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

  private localPartner(ch: TrackedChannel): TrackedChannel | undefined {
    const m = LOCAL.exec(ch.name);
    return m ? this.channels.get(ch.name.slice(0, -1) + (m[3] === '1' ? '2' : '1')) : undefined;
  }

  private enter(ch: TrackedChannel, bridge: string, technology: string, type: string): void {
    if (ch.bridge && ch.bridge !== bridge) this.leave(ch);
    let info = this.bridges.get(bridge);
    if (!info) this.bridges.set(bridge, (info = { id: bridge, technology, type, members: new Set() }));
    if (technology) info.technology = technology;
    if (type) info.type = type;
    info.members.add(ch.name);
    ch.bridge = bridge;
    this.noteParties(bridge);
    this.hooks.channelChanged?.(ch);
    this.hooks.bridgeChanged?.(bridge);
  }

  /**
   * Adds the parties of a conversation to the recordings that are still in it. A recording whose conversation is
   * known and differs is not touched: the call moved away from it and the runtime ends it (README "Calls that move").
   */
  private noteParties(bridge: string): void {
    const conv = this.conversation(bridge);
    const conference = this.isConference(conv.bridges);
    for (const member of conv.channels) {
      for (const r of this.recordingsOn(member.name)) {
        // The first two parties a recording shares a bridge with are its conversation, fixed at once: the call
        // may move again before the runtime gets round to judging it.
        if (!r.conversation && !conference && conv.parties.length === 2) r.conversation = conv.parties;
        if (r.conversation && !sameParties(r.conversation, conv.parties) && !conference) continue;
        for (const c of conv.partyChannels) addParty(r, this.partyOf(c));
      }
    }
  }

  /** A ConfBridge (softmix) or a holding bridge (parking): many parties, or none talking to each other. */
  isConference(bridges: string[]): boolean {
    return bridges.some((b) => /softmix|holding/.test(this.bridges.get(b)?.technology ?? ''));
  }

  private leave(ch: TrackedChannel): void {
    if (!ch.bridge) return;
    const bridge = ch.bridge;
    const info = this.bridges.get(bridge);
    info?.members.delete(ch.name);
    if (info && info.members.size === 0) this.bridges.delete(bridge);
    ch.bridge = null;
    this.hooks.channelChanged?.(ch);
    if (info && info.members.size > 0) this.hooks.bridgeChanged?.(bridge);
  }

  /** A deny on a channel: the whole call (its linkedid, and whoever it is talking to) objected to recording. */
  private object(ch: TrackedChannel, now: Date): void {
    const call = this.callOf(ch.name);
    const at = this.objectionOf(call) ?? now;
    for (const c of call) this.objections.set(c.linkedid, at);
    for (const c of call) for (const r of this.recordingsOn(c.name)) r.objectedAt ??= at;
    this.hooks.objection?.(ch, at);
  }

  private hangup(name: string, now: Date, reason: 'hangup' | 'vanished' = 'hangup'): void {
    const ch = this.channels.get(name);
    if (!ch) return;
    this.leave(ch);
    for (const r of this.recordingsOn(name)) this.end(r, reason, now);
    this.channels.delete(name);
    this.unlink(ch);
    this.recentlyGone.add(ch.uniqueid);
    if (this.recentlyGone.size > 1000) this.recentlyGone.delete(this.recentlyGone.values().next().value!);
    // The objection lives as long as a channel of its call does.
    if (this.objections.has(ch.linkedid) && !this.byLinkedid.has(ch.linkedid)) this.objections.delete(ch.linkedid);
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
    if (expected?.conversation) r.conversation = expected.conversation;
    if (expected?.vars) {
      for (const k of [...r.vars.keys()]) if (k.startsWith('MITSCHNITT_') && k !== 'MITSCHNITT_FILE' && k !== 'MITSCHNITT_MIXMON_ID') r.vars.delete(k);
      for (const [k, v] of Object.entries(expected.vars)) r.vars.set(k, v);
    }
    const objected = this.objectionOf(this.callOf(ch.name));
    if (objected) r.objectedAt = objected;
    addParty(r, this.partyOf(ch));
    this.recordings.set(file, r);
    if (ch.bridge) this.noteParties(ch.bridge);
    this.hooks.recordingStarted?.(r);
    this.hooks.channelChanged?.(ch);
    return r;
  }

  private end(r: ActiveRecording, reason: EndedRecording['reason'], now: Date): void {
    if (!this.recordings.delete(r.file)) return;
    const ch = this.channels.get(r.channel);
    if (!r.objectedAt && ch) {
      const objected = this.objectionOf(this.callOf(ch.name));
      if (objected) r.objectedAt = objected;
    }
    this.hooks.recordingEnded?.({ recording: r, reason, endedAt: now });
    if (ch) this.hooks.channelChanged?.(ch);
  }
}

export function sameParties(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

function addParty(r: ActiveRecording, p: PartySeen): void {
  if (!p.number) return;
  const known = r.participants.find((q) => q.number === p.number);
  if (known) {
    if (!known.name && p.name) known.name = p.name;
    return;
  }
  r.participants.push(p);
}

function parseDuration(text: string | undefined): number {
  const m = /^(\d+):(\d{2}):(\d{2})$/.exec(text ?? '');
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : 0;
}
