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
  tracker: CallTracker;
  control: RecordingControl;
  ami: AmiActions;
  log: Logger;
}): Route {
  const phones = new Map<string, { user: PolicyUser; ip?: string }>();
  for (const user of Object.values(deps.policy.users)) {
    if (user.host !== deps.policy.host) continue;
    for (const p of user.phones) phones.set(normalizeMac(p.mac), p.ip ? { user, ip: p.ip } : { user });
  }
  const finder = new CallIdFinder(deps.tracker, deps.ami);
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
        channel = await finder.find(callId, (ch) => deps.control.userOfChannel(ch)?.id === phone.user.id);
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
 * costs a few Getvars at most. Answers are cached per channel; the cache only holds live channels.
 */
export class CallIdFinder {
  private readonly byChannel = new Map<string, string>();

  constructor(
    private readonly tracker: CallTracker,
    private readonly ami: AmiActions,
  ) {}

  async find(callId: string, isOwn: (ch: TrackedChannel) => boolean): Promise<TrackedChannel | undefined> {
    for (const name of [...this.byChannel.keys()]) if (!this.tracker.channels.has(name)) this.byChannel.delete(name);
    for (const [name, id] of this.byChannel) if (id === callId) return this.tracker.channels.get(name);
    for (const ch of [...this.tracker.channels.values()]) {
      if (!ch.name.startsWith('PJSIP/') || this.byChannel.has(ch.name) || !isOwn(ch)) continue;
      const r = await this.ami.action('Getvar', { Channel: ch.name, Variable: 'CHANNEL(pjsip,call-id)' });
      if (!r.ok) continue; // hung up meanwhile
      const id = r.message.get('Value') ?? '';
      this.byChannel.set(ch.name, id);
      if (id === callId) return this.tracker.channels.get(ch.name);
    }
    return undefined;
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
