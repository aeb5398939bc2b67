// SIPp as the company's phones against the real Asterisk: a caller (UAC) and an answering phone (UAS) per call,
// with real RTP (the package's G.711 a-law recording, echoed back by the answering side), RFC 4733 DTMF, SIP INFO
// `Record: on|off`, REFER (blind transfer) and hang-up. Each scenario is generated from a list of steps.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './asterisk-instance.ts';

const PCAPS = '/usr/share/sip-tester';

/** What a phone does once the call is up, in order. */
export type Step =
  | { pause: number }
  /** Plays RTP audio (7 s of G.711 a-law) without waiting for it. */
  | { audio: true }
  /** Presses keys as RFC 4733 events (0-9, *, #), 0.25 s per key, in an RTP stream of their own (no audio meanwhile). */
  | { dtmf: string }
  /**
   * One RTP stream as a real phone sends it, played without waiting: `ms` of a-law speech with RFC 4733 key
   * presses at the given offsets, all in one SSRC and sequence (a second stream would make Asterisk drop one).
   */
  | { media: number; keys?: { at: number; keys: string }[] }
  /** SIP INFO with `Record: on|off` (a SNOM/Polycom record button); the answer code is logged. */
  | { info: 'on' | 'off' }
  /** Blind transfer of the other party to `to` (REFER), then the phone is released by Asterisk's BYE. */
  | { refer: string }
  | { hangup: true }
  /** Waits until the other side hangs up. */
  | { awaitBye: true };

export interface CallOptions {
  /** The caller's number (From user = its PJSIP endpoint). */
  from: string;
  to: string;
  /** Extra header on the INVITE, e.g. `X-Trunk: carrier` for the carrier endpoint. */
  header?: string;
  /** Give up (CANCEL) this long after the first ringing instead of waiting for an answer. */
  cancelAfterMs?: number;
  steps: Step[];
}

export interface AnswerOptions {
  /** The extension whose phone this is (listens on the endpoint's contact port). */
  ext: string;
  port: number;
  /** Ring this long before answering. */
  ringMs?: number;
  /** 486 Busy Here instead of answering (a rejected call). */
  reject?: boolean;
  /** Never answer: ring until Asterisk cancels. */
  noAnswer?: boolean;
  steps?: Step[];
}

/** One SIPp process playing one phone for one call. */
export class SippPhone {
  readonly dir: string;
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;
  stderr = '';

  private constructor(dir: string, args: string[]) {
    this.dir = dir;
    this.child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr!.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** The SIP Call-ID of this phone's dialog (what a SNOM phone puts into $call-id), once it is known. */
  callId(): string | undefined {
    return /CALLID (\S+)/.exec(this.logText())?.[1];
  }

  /** Lines the scenario logged (`INFO-ANSWER 200`, `CALLID …`). */
  logText(): string {
    const file = join(this.dir, 'phone.log');
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  }

  async waitCallId(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const id = this.callId();
      if (id) return id;
      if (Date.now() > deadline) throw new Error(`no Call-ID logged by the phone: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Resolves with SIPp's exit code (0 = the scenario ran as written). */
  done(): Promise<number | null> {
    return this.exited;
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
    if (!process.env.MITSCHNITT_KEEP_ENGINE) rmSync(this.dir, { recursive: true, force: true });
  }

  /** Places a call to Asterisk at 127.0.0.1:sipPort. */
  static async call(sipPort: number, o: CallOptions): Promise<SippPhone> {
    const dir = mkdtempSync(join(tmpdir(), 'sipp-'));
    writeFileSync(join(dir, 'uac.xml'), uacScenario(o, dir));
    const port = await freePort();
    return new SippPhone(dir, [...(await commonArgs(dir, port)), '-sf', 'uac.xml', '-s', o.to, '-m', '1', '-cid_str', `mt${randomBytes(4).toString('hex')}-%u@%s`, `127.0.0.1:${sipPort}`]);
  }

  /** Waits for one call on the phone's contact port and handles it as told. */
  static async answer(o: AnswerOptions): Promise<SippPhone> {
    const dir = mkdtempSync(join(tmpdir(), 'sipp-'));
    writeFileSync(join(dir, 'uas.xml'), uasScenario(o, dir));
    return new SippPhone(dir, [...(await commonArgs(dir, o.port)), '-sf', 'uas.xml', '-m', '1', '-rtp_echo']);
  }
}

async function commonArgs(dir: string, port: number): Promise<string[]> {
  const media = await freeMediaPort();
  return ['-i', '127.0.0.1', '-p', String(port), '-mi', '127.0.0.1', '-mp', String(media), '-cp', String(await freePort()), '-nostdin', '-trace_logs', '-log_file', join(dir, 'phone.log'), '-timeout', '120s', '-timeout_error', '-max_recv_loops', '1000', '-aa'];
}

/** SIPp's media uses port, port+2 (echo) and their RTCP neighbours: four free UDP ports in a row. */
async function freeMediaPort(): Promise<number> {
  const dgram = await import('node:dgram');
  const free = (p: number) =>
    new Promise<boolean>((resolve) => {
      const s = dgram.createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(p, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  for (;;) {
    const start = 30000 + 4 * Math.floor(Math.random() * 5000);
    if ((await free(start)) && (await free(start + 1)) && (await free(start + 2)) && (await free(start + 3))) return start;
  }
}

const SDP = `v=0
o=phone 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv`;

const DTMF_EVENTS: Record<string, number> = { '*': 10, '#': 11 };
/** A key press: 120 ms of event packets, then 130 ms of silence before the next key. */
const DTMF_KEY_MS = 250;

/**
 * A pcap of RFC 4733 telephone-events (payload type 101) for a sequence of keys, played by SIPp as it is. The
 * package's dtmf_2833_*.pcap files all share one SSRC, sequence and timestamp, so Asterisk takes a second key
 * from another file for a retransmission of the first and drops it: each press here gets its own SSRC, and the
 * keys of one press carry rising sequence numbers and timestamps.
 */
function dtmfPcap(keys: string): Buffer {
  return mediaPcap(keys.length * DTMF_KEY_MS, [{ at: 0, keys }], false);
}

/** The a-law speech of the package's g711a.pcap as 20 ms frames (160 bytes), looped by mediaPcap. */
let speech: Buffer[] | undefined;
function speechFrames(): Buffer[] {
  if (speech) return speech;
  const pcap = readFileSync(`${PCAPS}/g711a.pcap`);
  const payloads: Buffer[] = [];
  for (let at = 24; at + 16 <= pcap.length; ) {
    const len = pcap.readUInt32LE(at + 8);
    payloads.push(pcap.subarray(at + 16 + 14 + 20 + 8 + 12, at + 16 + len)); // Ethernet, IPv4, UDP, RTP headers
    at += 16 + len;
  }
  // The file sends 30 ms per packet; a phone here sends 20 ms (160 samples).
  const audio = Buffer.concat(payloads);
  const frames: Buffer[] = [];
  for (let i = 0; i + 160 <= audio.length; i += 160) frames.push(audio.subarray(i, i + 160));
  return (speech = frames);
}

/**
 * `ms` of one phone's RTP: speech every 20 ms (payload type 8) unless `speak` is false, and each key press as
 * RFC 4733 events (payload type 101) that replace the speech while they last, all in one SSRC and sequence.
 */
function mediaPcap(ms: number, presses: { at: number; keys: string }[], speak = true): Buffer {
  const ssrc = randomBytes(4).readUInt32BE(0);
  let seq = randomBytes(2).readUInt16BE(0);
  const base = randomBytes(4).readUInt32BE(0) >>> 1;
  const frames = speechFrames();
  // `start` is the key's first packet (its RTP timestamp); `ms` when this packet of the key is sent.
  const events: { start: number; ms: number; event: number; k: number }[] = [];
  for (const press of presses) {
    [...press.keys].forEach((key, i) => {
      const event = DTMF_EVENTS[key] ?? Number(key);
      if (!Number.isInteger(event) || event < 0 || event > 11) throw new Error(`not a phone key: ${key}`);
      const start = press.at + i * DTMF_KEY_MS;
      // Every 20 ms a packet with the growing duration; the end packet is sent three times (RFC 4733 2.5.1.4).
      for (let k = 0; k <= 6; k++) events.push({ start, ms: start + Math.min(k, 4) * 20 + (k > 4 ? (k - 4) * 5 : 0), event, k });
    });
  }
  const busy = (t: number) => events.some((e) => t >= e.start && t < e.start + DTMF_KEY_MS);
  const packets: { ms: number; rtp: Buffer }[] = [];
  const rtpHeader = (marker: boolean, pt: number, timestamp: number) => {
    const h = Buffer.alloc(12);
    h.writeUInt8(0x80, 0);
    h.writeUInt8((marker ? 0x80 : 0) | pt, 1);
    h.writeUInt16BE(0, 2);
    h.writeUInt32BE((base + timestamp) >>> 0, 4);
    h.writeUInt32BE(ssrc, 8);
    return h;
  };
  if (speak) {
    for (let t = 0, n = 0; t < ms; t += 20, n++) {
      if (!busy(t)) packets.push({ ms: t, rtp: Buffer.concat([rtpHeader(n === 0, 8, t * 8), frames[n % frames.length]!]) });
    }
  }
  for (const e of events) {
    const body = Buffer.alloc(4);
    body.writeUInt8(e.event, 0);
    body.writeUInt8((e.k >= 4 ? 0x80 : 0) | 10, 1);
    body.writeUInt16BE(Math.min(e.k, 4) * 160 + 160, 2);
    packets.push({ ms: e.ms, rtp: Buffer.concat([rtpHeader(e.k === 0, 101, e.start * 8), body]) });
  }
  packets.sort((a, b) => a.ms - b.ms);
  for (const p of packets) p.rtp.writeUInt16BE(seq++ & 0xffff, 2);
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(1, 20); // Ethernet
  const records = packets.map(({ ms, rtp }) => {
    const udp = Buffer.alloc(8);
    udp.writeUInt16BE(10000, 0);
    udp.writeUInt16BE(10000, 2);
    udp.writeUInt16BE(8 + rtp.length, 4);
    const ip = Buffer.alloc(20);
    ip.writeUInt8(0x45, 0);
    ip.writeUInt16BE(20 + 8 + rtp.length, 2);
    ip.writeUInt8(64, 8);
    ip.writeUInt8(17, 9); // UDP
    ip.writeUInt32BE(0x7f000001, 12);
    ip.writeUInt32BE(0x7f000001, 16);
    const eth = Buffer.alloc(14);
    eth.writeUInt16BE(0x0800, 12);
    const frame = Buffer.concat([eth, ip, udp, rtp]);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(ms / 1000), 0);
    rec.writeUInt32LE((ms % 1000) * 1000, 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    return Buffer.concat([rec, frame]);
  });
  return Buffer.concat([header, ...records]);
}

/** Headers of an in-dialog request; `self`/`peer` are the From and To of this side. */
interface Dialog {
  /** Where generated media files (DTMF pcaps) go: the phone's folder. */
  dir: string;
  files: number;
  requestUri: string;
  from: string;
  to: string;
  cseq: () => number;
}

function steps(list: Step[], d: Dialog): string {
  return list
    .map((s) => {
      if ('pause' in s) return `  <pause milliseconds="${s.pause}"/>`;
      if ('audio' in s) return `  <nop><action><exec play_pcap_audio="${PCAPS}/g711a.pcap"/></action></nop>`;
      if ('media' in s) {
        const file = join(d.dir, `media-${++d.files}.pcap`);
        writeFileSync(file, mediaPcap(s.media, s.keys ?? []));
        return `  <nop><action><exec play_pcap_audio="${file}"/></action></nop>`;
      }
      if ('dtmf' in s) {
        const file = join(d.dir, `dtmf-${++d.files}.pcap`);
        writeFileSync(file, dtmfPcap(s.dtmf));
        return `  <nop><action><exec play_pcap_audio="${file}"/></action></nop>\n  <pause milliseconds="${s.dtmf.length * DTMF_KEY_MS + 200}"/>`;
      }
      if ('info' in s) {
        const n = d.cseq();
        return `${request('INFO', d, n, `Record: ${s.info}`)}
  <recv response="200" optional="true" next="info${n}ok"/>
  <recv response="403" next="info${n}no"/>
  <label id="info${n}no"/>
  <nop><action><log message="INFO-ANSWER 403"/></action></nop>
  <nop next="info${n}end"/>
  <label id="info${n}ok"/>
  <nop><action><log message="INFO-ANSWER 200"/></action></nop>
  <label id="info${n}end"/>`;
      }
      if ('refer' in s) {
        const n = d.cseq();
        // SIPp refuses a receive sequence made only of optional messages: after the first NOTIFY, wait for more
        // NOTIFYs (sipfrag progress) or the BYE that releases this phone, whichever comes, answering each.
        return `${request('REFER', d, n, `Refer-To: <sip:${s.refer}@[remote_ip]:[remote_port]>\nReferred-By: ${d.from}`)}
  <recv response="202"/>
  <recv request="NOTIFY"/>
${ok200()}
  <label id="refer${n}wait"/>
  <recv request="NOTIFY" optional="true" next="refer${n}notify"/>
  <recv request="BYE" next="refer${n}bye"/>
  <label id="refer${n}notify"/>
${ok200()}
  <nop next="refer${n}wait"/>
  <label id="refer${n}bye"/>
${ok200()}`;
      }
      if ('hangup' in s) return `${request('BYE', d, d.cseq())}\n  <recv response="200"/>`;
      return awaitBye();
    })
    .join('\n');
}

function ok200(): string {
  return `  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>`;
}

function awaitBye(): string {
  return `  <recv request="BYE"/>\n${ok200()}`;
}

function request(method: string, d: Dialog, cseq: number, extra = ''): string {
  return `  <send retrans="500"><![CDATA[
${method} ${d.requestUri} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: ${d.from}
To: ${d.to}
Call-ID: [call_id]
CSeq: ${cseq} ${method}
Contact: <sip:[local_ip]:[local_port]>
Max-Forwards: 70
${extra ? `${extra}\n` : ''}Content-Length: 0

]]></send>`;
}

function uacScenario(o: CallOptions, dir: string): string {
  let cseq = 1;
  const from = `<sip:${o.from}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]`;
  const dialog: Dialog = { dir, files: 0, requestUri: '[$contact]', from, to: `<sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]`, cseq: () => ++cseq };
  return `<?xml version="1.0" encoding="ISO-8859-1"?>
<scenario name="phone ${o.from} calls ${o.to}">
  <nop><action><log message="CALLID [call_id]"/></action></nop>
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: ${from}
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:${o.from}@[local_ip]:[local_port]>
Max-Forwards: 70
${o.header ? `${o.header}\n` : ''}Content-Type: application/sdp
Content-Length: [len]

${SDP}
]]></send>
  <recv response="100" optional="true"/>
${o.cancelAfterMs === undefined ? '' : `  <recv response="180"/>
  <pause milliseconds="${o.cancelAfterMs}"/>
  <send><![CDATA[
CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: ${from}
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 CANCEL
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200"/>
  <recv response="487" next="refused"/>
`}  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="486" optional="true" next="refused"/>
  <recv response="480" optional="true" next="refused"/>
  <recv response="404" optional="true" next="refused"/>
  <recv response="603" optional="true" next="refused"/>
  <recv response="200" rtd="true">
    <action><ereg regexp="sip:[^>]*" search_in="hdr" header="Contact:" assign_to="contact"/></action>
  </recv>
  <send><![CDATA[
ACK [$contact] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: ${from}
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:${o.from}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
  <nop><action><log message="ANSWERED"/></action></nop>
${steps(o.steps, dialog)}
  <nop next="end"/>
  <label id="refused"/>
  <send><![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: ${from}
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Content-Length: 0

]]></send>
  <nop><action><log message="REFUSED"/></action></nop>
  <label id="end"/>
</scenario>
`;
}

function uasScenario(o: AnswerOptions, dir: string): string {
  let cseq = 100;
  const local = `[$to];tag=[pid]SIPpTag01[call_number]`;
  const dialog: Dialog = { dir, files: 0, requestUri: '[$contact]', from: local, to: '[$from]', cseq: () => ++cseq };
  const reply = (status: string, sdp = false) => `  <send><![CDATA[
SIP/2.0 ${status}
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:${o.ext}@[local_ip]:[local_port]>
${sdp ? `Content-Type: application/sdp\nContent-Length: [len]\n\n${SDP}` : 'Content-Length: 0\n'}
]]></send>`;
  const invite = `  <recv request="INVITE">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="from"/>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="to"/>
      <ereg regexp="sip:[^>]*" search_in="hdr" header="Contact:" assign_to="contact"/>
      <log message="CALLID [call_id]"/>
      <!-- SIPp refuses a variable used only once: a phone that never sends a request (rings, or answers and awaits BYE) still logs them. -->
      <log message="PEER [$contact] [$from] [$to]"/>
    </action>
  </recv>
${reply('180 Ringing')}`;
  let body: string;
  if (o.reject) body = `${invite}\n  <pause milliseconds="${o.ringMs ?? 300}"/>\n${reply('486 Busy Here')}\n  <recv request="ACK"/>`;
  else if (o.noAnswer) body = `${invite}\n  <recv request="CANCEL"/>\n${reply('200 OK')}\n${reply('487 Request Terminated')}\n  <recv request="ACK"/>`;
  else {
    body = `${invite}
  <pause milliseconds="${o.ringMs ?? 300}"/>
${reply('200 OK', true)}
  <recv request="ACK"/>
  <nop><action><log message="ANSWERED"/></action></nop>
${steps(o.steps ?? [{ awaitBye: true }], dialog)}`;
  }
  return `<?xml version="1.0" encoding="ISO-8859-1"?>
<scenario name="phone ${o.ext} answers">
${body}
</scenario>
`;
}
