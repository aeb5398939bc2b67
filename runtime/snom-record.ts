import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Policy, PolicyUser } from '../generator/policy.ts';
import type { AmiActions, RecordingControl } from './manual-recording.ts';
import type { CallTracker, TrackedChannel } from './call-tracker.ts';
import type { Route } from './http-server.ts';
import type { Logger } from './log.ts';

type Outcome = 'started' | 'stopped' | 'not-allowed' | 'no-call' | 'error';

const TEXTS: Record<'de' | 'en', { title: string } & Record<Outcome, string>> = {
  de: {
    title: 'Mitschnitt',
    started: 'Aufnahme gestartet',
    stopped: 'Aufnahme beendet',
    'not-allowed': 'Aufnahme nicht erlaubt',
    'no-call': 'Kein Gespräch gefunden',
    error: 'Aufnahme nicht möglich',
  },
  en: {
    title: 'Recording',
    started: 'Recording started',
    stopped: 'Recording stopped',
    'not-allowed': 'Recording not allowed',
    'no-call': 'No call found',
    error: 'Recording failed',
  },
};

/**
 * `GET /snom/record?mac=…&callid=…`, the SNOM record key (`$mac`, `$call-id`). Authentication: the MAC must be a
 * phone of a user of this host, the request must come from that phone's `ip` when the policy knows it, and the
 * call found by its SIP Call-ID must be that user's own channel. Always answers 200 with SNOM's XML (the phone
 * shows nothing otherwise); what happened is in the text and in the log.
 */
export function snomRecordRoute(deps: {
  policy: Policy;
  control: RecordingControl;
  callIds: CallIdFinder;
  log: Logger;
}): Route {
  const phones = new Map<string, { user: PolicyUser; ip?: string }>();
  for (const user of Object.values(deps.policy.users)) {
    if (user.host !== deps.policy.host) continue;
    for (const p of user.phones) phones.set(normalizeMac(p.mac), p.ip ? { user, ip: p.ip } : { user });
  }
  const lang = deps.policy.settings.smtp?.language === 'en' ? 'en' : 'de';

  return {
    method: 'GET',
    path: '/snom/record',
    async handler(req: IncomingMessage, res: ServerResponse) {
      const url = new URL(req.url ?? '/', 'http://phone');
      const mac = normalizeMac(url.searchParams.get('mac') ?? '');
      // The phone pastes $call-id unencoded; a '+' in it (allowed in a SIP Call-ID) reads back as a space, which a
      // Call-ID can never contain (RFC 3261 `word`), so every space was a '+'.
      const callId = (url.searchParams.get('callid') ?? '').replace(/ /g, '+');
      const from = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
      const reply = (outcome: Outcome, fields: Record<string, unknown>) => {
        const level = outcome === 'started' || outcome === 'stopped' ? 'info' : outcome === 'error' ? 'error' : 'warn';
        deps.log[level]('snom record key', { outcome, mac, from, ...fields });
        sendSnomText(res, TEXTS[lang].title, TEXTS[lang][outcome]);
      };
      if (!/^[0-9a-f]{12}$/.test(mac) || !callId || callId.length > 256 || /[\x00-\x1f]/.test(callId)) {
        return reply('not-allowed', { why: 'missing or malformed mac/callid' });
      }
      const phone = phones.get(mac);
      if (!phone) return reply('not-allowed', { why: 'unknown phone' });
      if (phone.ip && phone.ip !== from) return reply('not-allowed', { why: 'request does not come from the phone\'s address', user: phone.user.id });
      let channel: TrackedChannel | undefined;
      try {
        channel = await deps.callIds.find(callId, (ch) => deps.control.userOfChannel(ch)?.id === phone.user.id);
      } catch (err) {
        return reply('error', { why: 'AMI unavailable', error: err });
      }
      if (!channel) return reply('no-call', { user: phone.user.id });
      const result = await deps.control.toggle(phone.user, channel);
      if (result.ok) return reply(result.action, { user: phone.user.id, channel: channel.name });
      return reply(result.reason === 'ami-error' ? 'error' : result.reason, { user: phone.user.id, channel: channel.name, why: result.message });
    },
  };
}

/**
 * Finds the channel whose PJSIP dialog has a given SIP Call-ID (`CHANNEL(pjsip,call-id)` via Getvar). Only the
 * asking user's own channels are asked (the key may only toggle those anyway), so a flood of made-up Call-IDs
 * costs a few Getvars at most. Answers are cached per channel; the cache only holds live channels. `learn` asks
 * as soon as a record-key user's call is answered, so a key press finds its call without a round trip to Asterisk.
 */
export class CallIdFinder {
  private readonly byChannel = new Map<string, Promise<string | null>>();

  constructor(
    private readonly tracker: CallTracker,
    private readonly ami: AmiActions,
  ) {}

  async find(callId: string, isOwn: (ch: TrackedChannel) => boolean): Promise<TrackedChannel | undefined> {
    this.forgetGone();
    for (const ch of [...this.tracker.channels.values()]) {
      if (!ch.name.startsWith('PJSIP/') || !isOwn(ch)) continue;
      if ((await this.callIdOf(ch.name)) === callId) return this.tracker.channels.get(ch.name);
    }
    return undefined;
  }

  /** Asks for the channel's Call-ID in the background (a record-key user's phone channel was answered). */
  learn(ch: TrackedChannel): void {
    if (!ch.name.startsWith('PJSIP/') || this.byChannel.has(ch.name)) return;
    this.forgetGone();
    this.callIdOf(ch.name).catch(() => undefined);
  }

  private callIdOf(channel: string): Promise<string | null> {
    let id = this.byChannel.get(channel);
    if (!id) {
      const asked = this.ami.action('Getvar', { Channel: channel, Variable: 'CHANNEL(pjsip,call-id)' }).then((r) => (r.ok ? r.message.get('Value') ?? '' : null));
      this.byChannel.set(channel, asked);
      // Hung up meanwhile, or AMI down (the key press reports that): asked again next time.
      const forget = () => this.byChannel.get(channel) === asked && this.byChannel.delete(channel);
      void asked.then((v) => v === null && forget(), forget);
      id = asked;
    }
    return id;
  }

  private forgetGone(): void {
    for (const name of [...this.byChannel.keys()]) if (!this.tracker.channels.has(name)) this.byChannel.delete(name);
  }
}

export function normalizeMac(mac: string): string {
  return mac.toLowerCase().replace(/[:-]/g, '');
}

/** SNOM's minimal XML answer, unindented (old firmware dislikes whitespace between elements). */
export function sendSnomText(res: ServerResponse, title: string, text: string): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?><SnomIPPhoneText><Title>${xmlEscape(title)}</Title><Text>${xmlEscape(text)}</Text></SnomIPPhoneText>`;
  res.writeHead(200, { 'Content-Type': 'text/xml; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}

function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}
