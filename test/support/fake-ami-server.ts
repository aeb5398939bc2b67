/**
 * A protocol-accurate stand-in for Asterisk 22's AMI, for tests and benchmarks. It speaks the real wire format
 * (see /work/shared/asterisk-transcripts): the banner line, CRLF `Key: Value` blocks ended by an empty line,
 * ActionID echoing, EventList responses, responses split over two TCP writes where Asterisk splits them
 * (Getvar, MixMonitor), a ~1 s delayed login failure followed by a close (delay configurable).
 *
 * It keeps a small channel/bridge model and scenario helpers that emit the event sequences Asterisk emits for a
 * recorded call, a hangup from either side, a blind and an attended transfer (transcripts 07, 08, 11, 12, 15),
 * with channel snapshots in Asterisk's header order and `ChanVariable:` headers for the configured channelvars.
 * MixMonitor writes a real WAV file (8 kHz 16-bit mono PCM, or GSM-in-WAV for `.WAV`), header sizes patched when
 * the file is closed, like format_wav does; `advance(seconds)` appends audio to every running recording.
 */
import { mkdirSync, openSync, writeSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';
import net from 'node:net';

export type Headers = [string, string][];

export interface FakeAmiOptions {
  username?: string;
  secret?: string;
  /** Real Asterisk answers a failed login after about 1 s, then closes; tests use a few ms. */
  loginFailureDelayMs?: number;
  /** manager.conf channelvars: names whose values every channel event carries as `ChanVariable:`. */
  channelvars?: string[];
  /** MixMonitor's thread closes the file a little after the channel is gone; the runtime must wait for it. */
  fileCloseDelayMs?: number;
  /**
   * The account's manager.conf eventfilter, as the runtime's (generator/render-manager.ts): only these events,
   * and VarSet only for variables matching `varSet`. Without it every event is sent.
   */
  eventFilter?: { events: readonly string[]; varSet: string };
}

export interface PhoneSpec {
  /** Channel technology resource, e.g. `PJSIP/201` or `PJSIP/trunk`. */
  endpoint: string;
  number: string;
  name?: string;
  /** SIP Call-ID of this leg (what `CHANNEL(pjsip,call-id)` returns). */
  callId?: string;
}

export interface CallOptions {
  from: PhoneSpec;
  to: PhoneSpec;
  /** Variables the dialplan sets on the calling channel, with their `_`/`__` prefixes (e.g. `__MITSCHNITT_DECISION`). */
  vars?: Record<string, string>;
  /** Start MixMonitor on the calling channel as the dialplan does (before Dial, so in state Ring). */
  record?: { file: string; options?: string };
  /** Whether the callee answers; default true. */
  answer?: boolean;
  context?: string;
}

export interface CallHandle {
  linkedid: string;
  caller: string;
  callee: string;
  bridge: string | null;
}

interface Recording {
  id: string;
  file: string;
  fd: number;
  gsm: boolean;
  onlyBridged: boolean;
  muted: boolean;
  dataBytes: number;
}

interface Channel {
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
  priority: number;
  application: string;
  appData: string;
  created: number;
  /** Variables by full name (with `_`/`__` prefix), as Asterisk stores them. */
  vars: Map<string, string>;
  bridge: string | null;
  callId: string;
  recordings: Recording[];
}

interface Session {
  socket: net.Socket;
  authenticated: boolean;
  events: boolean;
  buffer: string;
  /** Writes are queued so a response split in two chunks is never overtaken by an event. */
  out: Promise<void>;
}

const STATE_DESC: Record<number, string> = { 0: 'Down', 4: 'Ring', 5: 'Ringing', 6: 'Up' };
const CAUSE_TXT: Record<number, string> = { 0: 'Unknown', 16: 'Normal Clearing', 17: 'User busy', 19: 'No answer' };

export class FakeAmiServer {
  readonly actions: { name: string; headers: Headers }[] = [];
  readonly channels = new Map<string, Channel>();
  private readonly bridges = new Map<string, Set<string>>();
  private readonly sessions = new Set<Session>();
  private readonly server: net.Server;
  private readonly options: Required<Omit<FakeAmiOptions, 'eventFilter'>> & Pick<FakeAmiOptions, 'eventFilter'>;
  private clock = 1795631000;
  private seq = 0;
  private chanSeq = 0;
  /** Variables the dialplan will set on channels created from now on (e.g. a per-extension MDC_MON_MODE). */
  private readonly newChannelVars = new Map<string, string>();
  port = 0;

  constructor(options: FakeAmiOptions = {}) {
    this.options = {
      username: options.username ?? 'mitschnitt',
      secret: options.secret ?? 'secret',
      loginFailureDelayMs: options.loginFailureDelayMs ?? 1000,
      channelvars: options.channelvars ?? [],
      fileCloseDelayMs: options.fileCloseDelayMs ?? 20,
      eventFilter: options.eventFilter,
    };
    this.server = net.createServer((socket) => this.accept(socket));
  }

  async start(port = 0): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** Closes every session and the listener; closes open recordings as a stopping Asterisk would. */
  async stop(): Promise<void> {
    this.dropConnections();
    for (const ch of this.channels.values()) for (const r of ch.recordings) closeRecording(r);
    for (const r of this.closing) closeRecording(r);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Cuts every AMI connection at once (Asterisk restart, network loss); the model keeps running. */
  dropConnections(): void {
    for (const s of this.sessions) s.socket.destroy();
    this.sessions.clear();
  }

  /** The Uniqueid the next channel will get (the dialplan names recordings after it). */
  nextUniqueid(): string {
    return `${this.clock}.${this.seq}`;
  }

  get sessionCount(): number {
    return [...this.sessions].filter((s) => s.authenticated).length;
  }

  // ---------------------------------------------------------------- wire

  private accept(socket: net.Socket): void {
    socket.setNoDelay(true);
    const session: Session = { socket, authenticated: false, events: true, buffer: '', out: Promise.resolve() };
    this.sessions.add(session);
    socket.on('close', () => this.sessions.delete(session));
    socket.on('error', () => this.sessions.delete(session));
    socket.on('data', (data) => {
      session.buffer += data.toString('latin1');
      let end: number;
      while ((end = session.buffer.indexOf('\r\n\r\n')) >= 0) {
        const block = session.buffer.slice(0, end);
        session.buffer = session.buffer.slice(end + 4);
        const headers: Headers = block
          .split('\r\n')
          .filter((l) => l.length > 0)
          .map((l) => {
            const i = l.indexOf(':');
            return i < 0 ? [l, ''] : [l.slice(0, i), l.slice(i + 1).trimStart()];
          });
        this.handle(session, headers);
      }
    });
    this.write(session, ['Asterisk Call Manager/11.0.0\r\n']);
  }

  /** Queues chunks; each chunk is a separate socket write in a later tick, so the reader sees split reads. */
  private write(session: Session, chunks: string[]): void {
    session.out = session.out.then(async () => {
      for (const chunk of chunks) {
        if (session.socket.destroyed) return;
        session.socket.write(chunk, 'latin1');
        if (chunks.length > 1) await new Promise((r) => setTimeout(r, 1));
      }
    });
  }

  private reply(session: Session, action: Headers, lines: Headers, splitAfterActionId = false): void {
    const id = get(action, 'ActionID');
    const head: Headers = [lines[0]!];
    if (id !== undefined) head.push(['ActionID', id]);
    const tail = lines.slice(1);
    if (splitAfterActionId) this.write(session, [block(head, false), block(tail)]);
    else this.write(session, [block([...head, ...tail])]);
  }

  private broadcast(name: string, privilege: string | null, headers: Headers): void {
    const all: Headers = [['Event', name]];
    if (privilege) all.push(['Privilege', privilege]);
    all.push(...headers);
    const filter = this.options.eventFilter;
    if (filter && !filter.events.includes(name) && !(name === 'VarSet' && new RegExp(filter.varSet).test(get(headers, 'Variable') ?? ''))) return;
    const text = block(all);
    for (const s of this.sessions) if (s.authenticated && s.events) this.write(s, [text]);
  }

  private handle(session: Session, action: Headers): void {
    const name = (get(action, 'Action') ?? '').toLowerCase();
    this.actions.push({ name, headers: action });
    if (name === 'login') return this.login(session, action);
    if (!session.authenticated && name !== 'logoff') {
      return this.reply(session, action, [['Response', 'Error'], ['Message', 'Permission denied']]);
    }
    switch (name) {
      case 'logoff':
        this.reply(session, action, [['Response', 'Goodbye'], ['Message', 'Thanks for all the fish.']]);
        session.out = session.out.then(() => void session.socket.end());
        return;
      case 'ping':
        return this.reply(session, action, [['Response', 'Success'], ['Ping', 'Pong'], ['Timestamp', `${this.clock}.000000`]]);
      case 'getvar':
        return this.getvar(session, action);
      case 'setvar':
        return this.setvarAction(session, action);
      case 'coreshowchannels':
        return this.coreShowChannels(session, action);
      case 'mixmonitor':
        return this.mixMonitorAction(session, action);
      case 'stopmixmonitor':
        return this.stopMixMonitorAction(session, action);
      case 'mixmonitormute':
        return this.muteAction(session, action);
      case 'hangup': {
        const ch = this.channels.get(get(action, 'Channel') ?? '');
        if (!ch) return this.reply(session, action, [['Response', 'Error'], ['Message', 'No such channel']]);
        this.reply(session, action, [['Response', 'Success'], ['Message', 'Channel Hungup']]);
        return this.hangup(ch.name);
      }
      default:
        return this.reply(session, action, [['Response', 'Error'], ['Message', 'Invalid/unknown command']]);
    }
  }

  private login(session: Session, action: Headers): void {
    const ok = get(action, 'Username') === this.options.username && get(action, 'Secret') === this.options.secret;
    if (!ok) {
      setTimeout(() => {
        this.reply(session, action, [['Response', 'Error'], ['Message', 'Authentication failed']]);
        session.out = session.out.then(() => void session.socket.end());
      }, this.options.loginFailureDelayMs);
      return;
    }
    session.authenticated = true;
    session.events = (get(action, 'Events') ?? 'on').toLowerCase() !== 'off';
    this.reply(session, action, [['Response', 'Success'], ['Message', 'Authentication accepted']]);
    if (session.events) {
      this.write(session, [block([['Event', 'FullyBooted'], ['Privilege', 'system,all'], ['Uptime', '35'], ['LastReload', '35'], ['Status', 'Fully Booted']])]);
    }
  }

  private getvar(session: Session, action: Headers): void {
    const variable = get(action, 'Variable') ?? '';
    const channelName = get(action, 'Channel');
    let value = '';
    if (channelName) {
      const ch = this.channels.get(channelName);
      if (!ch) return this.reply(session, action, [['Response', 'Error'], ['Message', 'No such channel']]);
      value = readVar(ch, variable);
    }
    // Asterisk's Getvar answer came in two reads in transcript 04: Response/ActionID, then Variable/Value.
    this.reply(session, action, [['Response', 'Success'], ['Variable', variable], ['Value', value]], true);
  }

  private setvarAction(session: Session, action: Headers): void {
    const ch = this.channels.get(get(action, 'Channel') ?? '');
    if (!ch) return this.reply(session, action, [['Response', 'Error'], ['Message', 'No such channel']]);
    this.reply(session, action, [['Response', 'Success'], ['Message', 'Variable Set']]);
    this.setVar(ch, get(action, 'Variable') ?? '', get(action, 'Value') ?? '');
  }

  private coreShowChannels(session: Session, action: Headers): void {
    const id = get(action, 'ActionID');
    const idHeader: Headers = id !== undefined ? [['ActionID', id]] : [];
    const parts = [block([['Response', 'Success'], ...idHeader, ['EventList', 'start'], ['Message', 'Channels will follow']])];
    for (const ch of this.channels.values()) {
      const secs = Math.max(0, this.clock - ch.created);
      const duration = [Math.floor(secs / 3600), Math.floor(secs / 60) % 60, secs % 60].map((n) => String(n).padStart(2, '0')).join(':');
      parts.push(
        block([
          ['Event', 'CoreShowChannel'],
          ...idHeader,
          ...this.snapshot(ch),
          ['Application', ch.application],
          ['ApplicationData', ch.appData],
          ['Duration', duration],
          ['BridgeId', ch.bridge ?? ''],
        ]),
      );
    }
    parts.push(block([['Event', 'CoreShowChannelsComplete'], ...idHeader, ['EventList', 'Complete'], ['ListItems', String(this.channels.size)]]));
    this.write(session, [parts.join('')]);
  }

  private mixMonitorAction(session: Session, action: Headers): void {
    const ch = this.channels.get(get(action, 'Channel') ?? '');
    if (!ch) return this.reply(session, action, [['Response', 'Error'], ['Message', 'No such channel']]);
    const file = get(action, 'File') ?? '';
    if (!file) return this.reply(session, action, [['Response', 'Error'], ['Message', 'No file specified']]);
    // The response head is written before MixMonitor runs; the id line follows once it started (transcript 09).
    const id = get(action, 'ActionID');
    this.write(session, [block([['Response', 'Success'], ...(id !== undefined ? ([['ActionID', id]] as Headers) : [])], false)]);
    const rec = this.startMixMonitor(ch, file, get(action, 'Options') ?? '');
    this.write(session, [block([['MixMonitorID', rec.id]])]);
    this.emitMixMonitorStart(ch, rec, get(action, 'Options') ?? '');
  }

  private stopMixMonitorAction(session: Session, action: Headers): void {
    const ch = this.channels.get(get(action, 'Channel') ?? '');
    if (!ch) return this.reply(session, action, [['Response', 'Error'], ['Message', 'No such channel']]);
    const wanted = get(action, 'MixMonitorID');
    const rec = wanted ? ch.recordings.find((r) => r.id === wanted) : ch.recordings[ch.recordings.length - 1];
    if (!rec) return this.reply(session, action, [['Response', 'Error'], ['Message', 'Could not stop monitoring channel']]);
    this.reply(session, action, [['Response', 'Success']]);
    ch.recordings.splice(ch.recordings.indexOf(rec), 1);
    this.closeLater(rec);
    this.broadcast('MixMonitorStop', 'call,all', this.snapshot(ch));
  }

  private muteAction(session: Session, action: Headers): void {
    const ch = this.channels.get(get(action, 'Channel') ?? '');
    if (!ch) return this.reply(session, action, [['Response', 'Error'], ['Message', 'No such channel']]);
    if (ch.recordings.length === 0) return this.reply(session, action, [['Response', 'Error'], ['Message', 'Cannot set mute flag']]);
    const state = get(action, 'State') === '1' || (get(action, 'State') ?? '').toLowerCase() === 'true';
    const direction = get(action, 'Direction') ?? 'both';
    for (const r of ch.recordings) if (direction === 'both') r.muted = state;
    this.reply(session, action, [['Response', 'Success']]);
    this.broadcast('MixMonitorMute', 'call,all', [...this.snapshot(ch), ['Direction', direction], ['State', state ? '1' : '0']]);
  }

  // ---------------------------------------------------------------- model

  /** The channel snapshot headers (ast_manager_build_channel_state_string_prefix) incl. channelvars. */
  snapshot(ch: Channel, prefix = ''): Headers {
    const h: Headers = [
      [`${prefix}Channel`, ch.name],
      [`${prefix}ChannelState`, String(ch.state)],
      [`${prefix}ChannelStateDesc`, STATE_DESC[ch.state] ?? 'Unknown'],
      [`${prefix}CallerIDNum`, ch.callerNum],
      [`${prefix}CallerIDName`, ch.callerName],
      [`${prefix}ConnectedLineNum`, ch.connectedNum],
      [`${prefix}ConnectedLineName`, ch.connectedName],
      [`${prefix}Language`, 'en'],
      [`${prefix}AccountCode`, ''],
      [`${prefix}Context`, ch.context],
      [`${prefix}Exten`, ch.exten],
      [`${prefix}Priority`, String(ch.priority)],
      [`${prefix}Uniqueid`, ch.uniqueid],
      [`${prefix}Linkedid`, ch.linkedid],
    ];
    for (const v of this.options.channelvars) h.push([`${prefix}ChanVariable`, `${v}=${readVar(ch, v)}`]);
    return h;
  }

  private bridgeSnapshot(id: string, prefix = ''): Headers {
    const kind = this.bridgeKinds.get(id) ?? { type: 'basic', technology: 'simple_bridge' };
    return [
      [`${prefix}BridgeUniqueid`, id],
      [`${prefix}BridgeType`, kind.type],
      [`${prefix}BridgeTechnology`, kind.technology],
      [`${prefix}BridgeCreator`, '<unknown>'],
      [`${prefix}BridgeName`, '<unknown>'],
      [`${prefix}BridgeNumChannels`, String(this.bridges.get(id)?.size ?? 0)],
      [`${prefix}BridgeVideoSourceMode`, 'none'],
    ];
  }

  private newChannel(spec: PhoneSpec, linkedid: string | null, state: number, context: string, exten: string): Channel {
    const uniqueid = `${this.clock}.${this.seq++}`;
    const name = `${spec.endpoint}-${(this.chanSeq++).toString(16).padStart(8, '0')}`;
    const ch: Channel = {
      name,
      uniqueid,
      linkedid: linkedid ?? uniqueid,
      state,
      callerNum: spec.number,
      callerName: spec.name ?? '<unknown>',
      connectedNum: '<unknown>',
      connectedName: '<unknown>',
      context,
      exten,
      priority: 1,
      application: '',
      appData: '',
      created: this.clock,
      vars: new Map(),
      bridge: null,
      callId: spec.callId ?? `${uniqueid}@fake`,
      recordings: [],
    };
    this.channels.set(name, ch);
    this.broadcast('Newchannel', 'call,all', this.snapshot(ch));
    for (const [k, v] of this.newChannelVars) this.setVar(ch, k, v);
    return ch;
  }

  /** Sets a variable as pbx_builtin_setvar_helper does: replaces any same-named variable whatever its prefix. */
  setVar(ch: Channel | string, fullName: string, value: string): void {
    const channel = typeof ch === 'string' ? this.channels.get(ch) : ch;
    if (!channel) throw new Error(`fake AMI: no channel ${String(ch)}`);
    const bare = stripPrefix(fullName);
    for (const k of [...channel.vars.keys()]) if (stripPrefix(k) === bare) channel.vars.delete(k);
    channel.vars.set(fullName, value);
    this.broadcast('VarSet', 'dialplan,all', [...this.snapshot(channel), ['Variable', fullName], ['Value', value]]);
  }

  private setState(ch: Channel, state: number): void {
    ch.state = state;
    this.broadcast('Newstate', 'call,all', this.snapshot(ch));
  }

  private startMixMonitor(ch: Channel, file: string, options: string): Recording {
    mkdirSync(dirname(file), { recursive: true });
    const gsm = file.endsWith('.WAV');
    const fd = openSync(file, 'w');
    writeSync(fd, wavHeader(gsm, 0));
    const rec: Recording = {
      id: `0x7f55e4${(0x1000 + this.seq++).toString(16)}`,
      file,
      fd,
      gsm,
      onlyBridged: /(^|[^a-z(])b/.test(options.replace(/\([^)]*\)/g, '')),
      muted: false,
      dataBytes: 0,
    };
    ch.recordings.push(rec);
    return rec;
  }

  private emitMixMonitorStart(ch: Channel, rec: Recording, options: string): void {
    this.setVar(ch, 'MIXMONITOR_FILENAME', rec.file);
    const idVar = /i\(([^)]+)\)/.exec(options)?.[1];
    if (idVar) this.setVar(ch, idVar, rec.id);
    this.broadcast('MixMonitorStart', 'call,all', this.snapshot(ch));
  }

  private enterBridge(bridge: string, ch: Channel): void {
    this.bridges.get(bridge)!.add(ch.name);
    ch.bridge = bridge;
    this.broadcast('BridgeEnter', 'call,all', [...this.bridgeSnapshot(bridge), ...this.snapshot(ch)]);
  }

  private leaveBridge(ch: Channel): void {
    const bridge = ch.bridge;
    if (!bridge) return;
    this.bridges.get(bridge)?.delete(ch.name);
    ch.bridge = null;
    this.broadcast('BridgeLeave', 'call,all', [...this.bridgeSnapshot(bridge), ...this.snapshot(ch)]);
  }

  /** Bridges that are not basic two-party ones: parking lots (holding_bridge), ConfBridge (softmix). */
  private readonly bridgeKinds = new Map<string, { type: string; technology: string }>();

  private createBridge(kind?: { type: string; technology: string }): string {
    const id = `${(this.seq++).toString(16).padStart(8, '0')}-34f7-4ede-b03d-32036867e017`;
    this.bridges.set(id, new Set());
    if (kind) this.bridgeKinds.set(id, kind);
    this.broadcast('BridgeCreate', 'call,all', this.bridgeSnapshot(id));
    return id;
  }

  private destroyBridge(id: string): void {
    this.broadcast('BridgeDestroy', 'call,all', this.bridgeSnapshot(id));
    this.bridges.delete(id);
    this.bridgeKinds.delete(id);
  }

  /** Dial from `caller` to a new channel for `to`, as app_dial does, bridging both if answered. */
  private dial(caller: Channel, to: PhoneSpec, answer: boolean, context: string): Channel {
    const callee = this.newChannel(to, caller.linkedid, 0, context, to.number);
    // ast_channel_inherit_variables: `__X` stays `__X`, `_X` becomes `X` on the child.
    for (const [k, v] of caller.vars) {
      if (k.startsWith('__')) this.setVar(callee, k, v);
      else if (k.startsWith('_')) this.setVar(callee, k.slice(1), v);
    }
    callee.connectedNum = caller.callerNum;
    callee.connectedName = caller.callerName;
    caller.application = 'Dial';
    caller.appData = `${to.endpoint},,tT`;
    this.broadcast('DialBegin', 'call,all', [...this.snapshot(caller), ...this.snapshot(callee, 'Dest'), ['DialString', to.endpoint.split('/')[1] ?? to.number]]);
    this.setState(callee, 5);
    if (!answer) return callee;
    this.setState(callee, 6);
    this.broadcast('DialEnd', 'call,all', [...this.snapshot(caller), ...this.snapshot(callee, 'Dest'), ['DialStatus', 'ANSWER']]);
    caller.connectedNum = callee.callerNum;
    caller.connectedName = callee.callerName;
    if (caller.state !== 6) this.setState(caller, 6);
    const bridge = this.createBridge();
    this.enterBridge(bridge, callee);
    this.enterBridge(bridge, caller);
    this.setVar(callee, 'BRIDGEPEER', caller.name);
    this.setVar(caller, 'BRIDGEPEER', callee.name);
    return callee;
  }

  // ---------------------------------------------------------------- scenario helpers

  /** A call from one phone to another, recorded from the start if `record` is given (transcripts 07/08). */
  call(options: CallOptions): CallHandle {
    const context = options.context ?? 'from-internal';
    const caller = this.newChannel(options.from, null, 4, context, options.to.number);
    caller.application = 'Gosub';
    for (const [k, v] of Object.entries(options.vars ?? {})) this.setVar(caller, k, v);
    if (options.record) {
      const rec = this.startMixMonitor(caller, options.record.file, options.record.options ?? 'bi(MITSCHNITT_MIXMON_ID)');
      this.emitMixMonitorStart(caller, rec, options.record.options ?? 'bi(MITSCHNITT_MIXMON_ID)');
    }
    const callee = this.dial(caller, options.to, options.answer ?? true, context);
    return { linkedid: caller.linkedid, caller: caller.name, callee: callee.name, bridge: caller.bridge };
  }

  /** Lets `seconds` of conversation pass: every running recording gets audio (silence while muted). */
  advance(seconds: number): void {
    this.clock += Math.round(seconds);
    for (const ch of this.channels.values()) {
      const bridged = ch.bridge !== null && (this.bridges.get(ch.bridge)?.size ?? 0) > 1;
      for (const r of ch.recordings) if (bridged || !r.onlyBridged) appendAudio(r, seconds);
    }
  }

  /**
   * Hangs up a channel. In a two-party bridge the other party goes too (Dial hangs up the callee; the caller's
   * dialplan continues to Hangup()), as in transcripts 08 and 11. Running recordings close without MixMonitorStop.
   */
  hangup(name: string, cause = 16): void {
    const ch = this.channels.get(name);
    if (!ch) return;
    const bridge = ch.bridge;
    const peers = bridge ? [...(this.bridges.get(bridge) ?? [])].filter((n) => n !== name) : [];
    if (bridge) {
      this.setVar(ch, 'BRIDGEPEER', '');
      this.leaveBridge(ch);
    }
    this.broadcast('SoftHangupRequest', 'call,all', [...this.snapshot(ch), ['Cause', String(cause)]]);
    if (bridge && peers.length === 1 && !this.bridgeKinds.has(bridge)) {
      const peer = this.channels.get(peers[0]!)!;
      this.leaveBridge(peer);
      this.destroyBridge(bridge);
      this.broadcast('HangupRequest', 'call,all', [...this.snapshot(peer), ['Cause', String(cause)]]);
      this.finishChannel(ch, cause);
      this.finishChannel(peer, cause);
      return;
    }
    if (bridge && peers.length === 0) this.destroyBridge(bridge);
    this.finishChannel(ch, cause);
  }

  /**
   * AMI Redirect of a bridged channel to `target` (an operator panel's transfer), as Asterisk 22 does it (seen on
   * the engine, test/engine/moving-calls-redirect.test.ts): the redirected channel leaves the bridge for the
   * dialplan, its peer leaves too and is hung up (its Dial is over), the bridge goes, and the redirected channel
   * dials the target. A MixMonitor stays on its channel whatever happens.
   */
  redirect(name: string, target: PhoneSpec, answer = true): { target: string } {
    const ch = this.mustChannel(name);
    const bridge = ch.bridge;
    if (!bridge) throw new Error('fake AMI: redirect of an unbridged channel');
    const peer = this.mustChannel([...this.bridges.get(bridge)!].find((n) => n !== name)!);
    this.setVar(ch, 'BRIDGEPEER', '');
    ch.exten = target.number;
    this.setVar(peer, 'BRIDGEPEER', '');
    this.leaveBridge(ch);
    this.leaveBridge(peer);
    this.destroyBridge(bridge);
    this.finishChannel(peer, 16);
    const c = this.dial(ch, target, answer, ch.context);
    return { target: c.name };
  }

  /**
   * AMI Park of a bridged channel (res_parking): it leaves its bridge for the lot's holding bridge
   * (BridgeTechnology holding_bridge), its peer's Dial is over and it hangs up.
   */
  park(name: string): { lot: string } {
    const ch = this.mustChannel(name);
    const bridge = ch.bridge;
    if (!bridge) throw new Error('fake AMI: park needs a bridged channel');
    const peer = this.mustChannel([...this.bridges.get(bridge)!].find((n) => n !== name)!);
    this.leaveBridge(ch);
    this.leaveBridge(peer);
    this.destroyBridge(bridge);
    this.finishChannel(peer, 16);
    const lot = this.createBridge({ type: 'basic', technology: 'holding_bridge' });
    this.enterBridge(lot, ch);
    return { lot };
  }

  /** `by` dials the parking space (ParkedCall): a new call of its own, bridged with the parked channel. */
  retrieve(parked: string, by: PhoneSpec): { retriever: string } {
    const ch = this.mustChannel(parked);
    const lot = ch.bridge;
    const r = this.newChannel(by, null, 6, 'from-internal', '701');
    if (lot) {
      this.leaveBridge(ch);
      this.destroyBridge(lot);
    }
    const bridge = this.createBridge();
    this.enterBridge(bridge, ch);
    this.enterBridge(bridge, r);
    return { retriever: r.name };
  }

  /** A phone joins ConfBridge `room` (softmix bridge), after the routine set `vars` and maybe started MixMonitor. */
  joinConference(room: string, from: PhoneSpec, vars: Record<string, string> = {}, record?: { file: string }): { channel: string } {
    let bridge = this.conferences.get(room);
    if (!bridge || !this.bridges.has(bridge)) {
      bridge = this.createBridge({ type: 'base', technology: 'softmix' });
      this.conferences.set(room, bridge);
    }
    const ch = this.newChannel(from, null, 6, 'from-internal', room);
    for (const [k, v] of Object.entries(vars)) this.setVar(ch, k, v);
    if (record) {
      const rec = this.startMixMonitor(ch, record.file, 'bi(MITSCHNITT_MIXMON_ID)');
      this.emitMixMonitorStart(ch, rec, 'bi(MITSCHNITT_MIXMON_ID)');
    }
    this.enterBridge(bridge, ch);
    return { channel: ch.name };
  }

  private readonly conferences = new Map<string, string>();

  /** The callee never answered: the caller gives up (CANCEL), the ringing channel goes first. */
  cancel(call: CallHandle): void {
    const caller = this.channels.get(call.caller);
    const callee = this.channels.get(call.callee);
    if (caller && callee) {
      this.broadcast('DialEnd', 'call,all', [...this.snapshot(caller), ...this.snapshot(callee, 'Dest'), ['DialStatus', 'CANCEL']]);
    }
    if (callee) this.finishChannel(callee, 0);
    if (caller) this.finishChannel(caller, 16);
  }

  private finishChannel(ch: Channel, cause: number): void {
    for (const r of ch.recordings) this.closeLater(r);
    ch.recordings = [];
    this.broadcast('Hangup', 'call,all', [...this.snapshot(ch), ['Cause', String(cause)], ['Cause-txt', CAUSE_TXT[cause] ?? 'Unknown']]);
    this.channels.delete(ch.name);
  }

  /**
   * Blind transfer by `transferer` of its bridge peer to `target` (transcript 12): BlindTransfer event, both leave
   * the bridge, the transferer hangs up, the transferee runs the dialplan and dials the target.
   */
  blindTransfer(transferer: string, target: PhoneSpec, answer = true): { transferee: string; target: string } {
    const a = this.mustChannel(transferer);
    const bridge = a.bridge;
    if (!bridge) throw new Error('fake AMI: blind transfer needs a bridged transferer');
    const b = this.mustChannel([...this.bridges.get(bridge)!].find((n) => n !== transferer)!);
    this.broadcast('BlindTransfer', 'call,all', [
      ['Result', 'Success'],
      ...this.snapshot(a, 'Transferer'),
      ...this.snapshot(b, 'Transferee'),
      ...this.bridgeSnapshot(bridge),
      ['IsExternal', 'Yes'],
      ['Context', b.context],
      ['Extension', target.number],
    ]);
    this.setVar(b, 'BRIDGEPEER', '');
    b.exten = target.number;
    this.leaveBridge(b);
    this.leaveBridge(a);
    this.destroyBridge(bridge);
    this.finishChannel(a, 16);
    const c = this.dial(b, target, answer, b.context);
    return { transferee: b.name, target: c.name };
  }

  /**
   * Attended transfer by `transferer` (transcript 15, the atxfer feature): the peer is put on hold, the target is
   * dialed into a second bridge with the transferer; `completeAttendedTransfer` (the transferer hangs up) merges it.
   */
  startAttendedTransfer(transferer: string, target: PhoneSpec): { transferee: string; target: string; secondBridge: string } {
    const a = this.mustChannel(transferer);
    const bridge = a.bridge;
    if (!bridge) throw new Error('fake AMI: attended transfer needs a bridged transferer');
    const b = this.mustChannel([...this.bridges.get(bridge)!].find((n) => n !== transferer)!);
    this.broadcast('Hold', 'call,all', this.snapshot(a));
    this.broadcast('MusicOnHoldStart', 'call,all', [...this.snapshot(b), ['Class', 'default']]);
    const c = this.newChannel(target, a.linkedid, 0, a.context, target.number);
    for (const [k, v] of a.vars) if (k.startsWith('__')) this.setVar(c, k, v);
    this.setVar(c, 'TRANSFERERNAME', a.name);
    this.setVar(c, 'ATTENDEDTRANSFER', a.name);
    const second = this.createBridge();
    this.setState(c, 6);
    this.enterBridge(second, c);
    this.broadcast('DialEnd', 'call,all', [...this.snapshot(c, 'Dest'), ['DialStatus', 'ANSWER']]);
    this.leaveBridge(a);
    this.enterBridge(second, a);
    return { transferee: b.name, target: c.name, secondBridge: second };
  }

  completeAttendedTransfer(transferer: string, originalBridge: string): void {
    const a = this.mustChannel(transferer);
    const second = a.bridge;
    if (!second) throw new Error('fake AMI: transferer is not in the consultation bridge');
    const transferee = this.mustChannel([...this.bridges.get(originalBridge)!][0]!);
    const origSnapshot = this.bridgeSnapshot(originalBridge, 'Orig');
    this.leaveBridge(a);
    this.broadcast('BridgeMerge', 'call,all', [...this.bridgeSnapshot(originalBridge, 'To'), ...this.bridgeSnapshot(second, 'From')]);
    this.broadcast('MusicOnHoldStop', 'call,all', this.snapshot(transferee));
    for (const name of [...this.bridges.get(second)!]) {
      const c = this.mustChannel(name);
      this.leaveBridge(c);
      this.enterBridge(originalBridge, c);
    }
    this.broadcast('AttendedTransfer', 'call,all', [
      ['Result', 'Success'],
      ...this.snapshot(a, 'OrigTransferer'),
      ...origSnapshot,
      ...this.snapshot(a, 'SecondTransferer'),
      ...this.bridgeSnapshot(second, 'Second'),
      ...this.snapshot(transferee, 'Transferee'),
      ['IsExternal', 'No'],
      ['DestType', 'Bridge'],
      ['DestBridgeUniqueid', originalBridge],
    ]);
    this.destroyBridge(second);
    this.finishChannel(a, 16);
  }

  /**
   * Attended transfer as a SIP phone does it (REFER with Replaces): the transferer's phone holds the first call,
   * places a second call (its own channel and linkedid, through the dialplan, so it may be recorded too) and then
   * joins the two. Asterisk merges the bridges, sends AttendedTransfer naming both transferer channels, and hangs
   * both up (main/bridge.c ast_bridge_transfer_attended).
   */
  phoneAttendedTransfer(transferer: string, consult: Omit<CallOptions, 'from'> & { from: PhoneSpec }): { transferee: string; target: string } {
    const a1 = this.mustChannel(transferer);
    const bridge1 = a1.bridge;
    if (!bridge1) throw new Error('fake AMI: attended transfer needs a bridged transferer');
    const b = this.mustChannel([...this.bridges.get(bridge1)!].find((n) => n !== transferer)!);
    this.broadcast('Hold', 'call,all', this.snapshot(a1));
    this.broadcast('MusicOnHoldStart', 'call,all', [...this.snapshot(b), ['Class', 'default']]);
    const second = this.call(consult);
    const a2 = this.mustChannel(second.caller);
    const c = this.mustChannel(second.callee);
    const bridge2 = a2.bridge!;
    const origSnapshot = this.bridgeSnapshot(bridge1, 'Orig');
    const secondSnapshot = this.bridgeSnapshot(bridge2, 'Second');
    this.leaveBridge(a1);
    this.leaveBridge(a2);
    this.broadcast('BridgeMerge', 'call,all', [...this.bridgeSnapshot(bridge1, 'To'), ...this.bridgeSnapshot(bridge2, 'From')]);
    this.broadcast('MusicOnHoldStop', 'call,all', this.snapshot(b));
    this.leaveBridge(c);
    this.enterBridge(bridge1, c);
    this.destroyBridge(bridge2);
    this.broadcast('AttendedTransfer', 'call,all', [
      ['Result', 'Success'],
      ...this.snapshot(a1, 'OrigTransferer'),
      ...origSnapshot,
      ...this.snapshot(a2, 'SecondTransferer'),
      ...secondSnapshot,
      ...this.snapshot(b, 'Transferee'),
      ...this.snapshot(c, 'TransferTarget'),
      ['IsExternal', 'No'],
      ['DestType', 'Bridge'],
      ['DestBridgeUniqueid', bridge1],
    ]);
    this.finishChannel(a1, 16);
    this.finishChannel(a2, 16);
    return { transferee: b.name, target: c.name };
  }

  private readonly closing = new Set<Recording>();

  private closeLater(r: Recording): void {
    this.closing.add(r);
    setTimeout(() => {
      this.closing.delete(r);
      closeRecording(r);
    }, this.options.fileCloseDelayMs);
  }

  setVarOnNextChannels(name: string, value: string): void {
    this.newChannelVars.set(name, value);
  }

  /** `UserEvent(name,…)` run by the dialplan or a features.conf applicationmap entry on a channel. */
  userEvent(channel: string, name: string, extra: Headers = []): void {
    this.broadcast('UserEvent', 'user,all', [...this.snapshot(this.mustChannel(channel)), ['UserEvent', name], ...extra]);
  }

  /** The channel names currently in a bridge. */
  bridgeMembers(bridge: string): string[] {
    return [...(this.bridges.get(bridge) ?? [])];
  }

  private mustChannel(name: string): Channel {
    const ch = this.channels.get(name);
    if (!ch) throw new Error(`fake AMI: no channel ${name}`);
    return ch;
  }
}

function get(headers: Headers, key: string): string | undefined {
  const k = key.toLowerCase();
  return headers.find(([h]) => h.toLowerCase() === k)?.[1];
}

function block(headers: Headers, end = true): string {
  return headers.map(([k, v]) => `${k}: ${v}\r\n`).join('') + (end ? '\r\n' : '');
}

function stripPrefix(name: string): string {
  return name.replace(/^_{1,2}/, '');
}

/** Variable or the few dialplan functions the runtime reads, as pbx_builtin_getvar / ast_func_read answer them. */
function readVar(ch: Channel, name: string): string {
  if (name === 'CHANNEL(pjsip,call-id)') return ch.name.startsWith('PJSIP/') ? ch.callId : '';
  if (name === 'CHANNEL(state)') return STATE_DESC[ch.state] ?? 'Unknown';
  if (name === 'UNIQUEID') return ch.uniqueid;
  for (const [k, v] of ch.vars) if (stripPrefix(k) === name) return v;
  return '';
}

/** RIFF header as format_wav (44 bytes, PCM 8 kHz 16-bit mono) or format_wav_gsm (60 bytes, MS-GSM) writes it. */
export function wavHeader(gsm: boolean, dataBytes: number): Buffer {
  if (!gsm) {
    const h = Buffer.alloc(44);
    h.write('RIFF', 0, 'ascii');
    h.writeUInt32LE(36 + dataBytes, 4);
    h.write('WAVEfmt ', 8, 'ascii');
    h.writeUInt32LE(16, 16);
    h.writeUInt16LE(1, 20);
    h.writeUInt16LE(1, 22);
    h.writeUInt32LE(8000, 24);
    h.writeUInt32LE(16000, 28);
    h.writeUInt16LE(2, 32);
    h.writeUInt16LE(16, 34);
    h.write('data', 36, 'ascii');
    h.writeUInt32LE(dataBytes, 40);
    return h;
  }
  const h = Buffer.alloc(60);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(52 + dataBytes, 4);
  h.write('WAVEfmt ', 8, 'ascii');
  h.writeUInt32LE(20, 16);
  h.writeUInt16LE(49, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(8000, 24);
  h.writeUInt32LE(1625, 28);
  h.writeUInt16LE(65, 32);
  h.writeUInt16LE(0, 34);
  h.writeUInt16LE(2, 36);
  h.writeUInt16LE(320, 38);
  h.write('fact', 40, 'ascii');
  h.writeUInt32LE(4, 44);
  h.writeUInt32LE((dataBytes / 65) * 320, 48);
  h.write('data', 52, 'ascii');
  h.writeUInt32LE(dataBytes, 56);
  return h;
}

function appendAudio(r: Recording, seconds: number): void {
  let bytes: Buffer;
  if (r.gsm) {
    bytes = Buffer.alloc(Math.round(seconds * 25) * 65);
    if (!r.muted) for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 37) & 0xff;
  } else {
    const samples = Math.round(seconds * 8000);
    bytes = Buffer.alloc(samples * 2);
    if (!r.muted) for (let i = 0; i < samples; i++) bytes.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000)), i * 2);
  }
  writeSync(r.fd, bytes, 0, bytes.length, (r.gsm ? 60 : 44) + r.dataBytes);
  r.dataBytes += bytes.length;
}

function closeRecording(r: Recording): void {
  if (r.fd < 0) return;
  writeSync(r.fd, wavHeader(r.gsm, r.dataBytes), 0, r.gsm ? 60 : 44, 0);
  closeSync(r.fd);
  r.fd = -1;
}
