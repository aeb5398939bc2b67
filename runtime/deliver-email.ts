import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import Mustache from 'mustache';
import nodemailer from 'nodemailer';
import type { Policy } from '../generator/policy.ts';
import type { Smtp } from '../generator/rule-set.ts';
import type { Journal, Party } from './journal.ts';

/** Everything a mail template may use; all plain strings (the templates stay dumb). */
export interface MailView {
  id: string;
  host: string;
  start: string;
  duration: string;
  caller: string;
  callee: string;
  direction: string;
  origin: string;
  decision: string;
  rule: string;
  audioName: string;
  audioPath: string;
  size: string;
  limit: string;
  sha256: string;
  retentionDays: string;
  /** Set for rules kept in years ('' otherwise): the years, and the day from which the recording goes. */
  retentionYears: string;
  retentionUntil: string;
  attached: boolean;
}

type Language = Smtp['language'];

const WORDS: Record<Language, Record<string, string>> = {
  de: {
    inbound: 'eingehend', outbound: 'ausgehend', internal: 'intern', external: 'extern',
    auto: 'automatisch', force: 'erzwungen', manual: 'auf Knopfdruck', none: 'keine',
  },
  en: {
    inbound: 'inbound', outbound: 'outbound', internal: 'internal', external: 'external',
    auto: 'automatic', force: 'forced', manual: 'on demand', none: 'none',
  },
};

const LOCALE: Record<Language, string> = { de: 'de-DE', en: 'en-GB' };

/**
 * Builds the template view from a journal. Every value is stripped of control characters: caller names come
 * from the phone network and must not be able to add header lines to the subject.
 */
export function mailView(journal: Journal, policy: Policy, audioPath: string, sizeBytes: number, attached: boolean): MailView {
  const language = policy.settings.smtp?.language ?? 'de';
  const words = WORDS[language];
  const limitMB = policy.settings.smtp?.maxAttachmentMB ?? 20;
  const rule = journal.rule ? policy.rules[journal.rule] : undefined;
  const view: MailView = {
    id: journal.id,
    host: journal.host,
    start: formatTime(journal.start, language),
    duration: formatDuration(journal.durationSeconds),
    caller: partyLabel(journal.caller),
    callee: partyLabel(journal.callee),
    direction: words[journal.direction] ?? journal.direction,
    origin: words[journal.origin] ?? journal.origin,
    decision: words[journal.decision] ?? journal.decision,
    rule: rule ? `${rule.name} (${rule.id})` : (journal.rule ?? words.none!),
    audioName: basename(audioPath),
    audioPath,
    size: formatSize(sizeBytes, language),
    limit: formatSize(limitMB * 1024 * 1024, language),
    sha256: journal.sha256 ?? '',
    retentionDays: String(journal.retentionDays),
    retentionYears: journal.retentionYears ? String(journal.retentionYears) : '',
    retentionUntil: journal.retentionYears ? formatDate(new Date(Date.parse(journal.start) + journal.retentionDays * 86_400_000), language) : '',
    attached,
  };
  for (const key of Object.keys(view) as (keyof MailView)[]) {
    const value = view[key];
    if (typeof value === 'string') (view as unknown as Record<string, unknown>)[key] = stripControl(value);
  }
  return view;
}

const templateCache = new Map<string, string>();

function template(name: string): string {
  let text = templateCache.get(name);
  if (text === undefined) {
    text = readFileSync(new URL(`../templates/${name}.mustache`, import.meta.url), 'utf8');
    templateCache.set(name, text);
  }
  return text;
}

/** Subject and plain-text body in the configured language; no HTML escaping (the mail is text/plain). */
export function renderMail(language: Language, view: MailView): { subject: string; text: string } {
  const plain = { escape: (s: string) => s };
  const subject = Mustache.render(template(`mail-subject-${language}`), view, {}, plain).replace(/\s+/g, ' ').trim();
  const text = Mustache.render(template(`mail-body-${language}`), view, {}, plain);
  return { subject, text };
}

export interface MailJob {
  to: string[];
  journal: Journal;
  audioPath: string;
  sizeBytes: number;
  /** Stable per recording and destination, so a mail re-sent after a crash can be recognised as the same. */
  messageId: string;
}

export interface Mailer {
  send(job: MailJob): Promise<{ attached: boolean }>;
  close(): void;
}

/** nodemailer options for settings.smtp: TLS as the settings say (verified), login when a user is named. */
export function smtpOptions(smtp: Smtp, password: string | undefined, socketTimeoutMs: number) {
  return {
    host: smtp.host,
    port: smtp.port,
    secure: smtp.security === 'tls',
    requireTLS: smtp.security === 'starttls',
    ignoreTLS: smtp.security === 'none',
    auth: smtp.user ? { user: smtp.user, pass: password ?? '' } : undefined,
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: socketTimeoutMs,
  };
}

/** One SMTP connection (pooled) for a whole batch. */
export function createMailer(policy: Policy, smtp: Smtp, password: string | undefined): Mailer {
  const transport = nodemailer.createTransport({ pool: true, maxConnections: 1, ...smtpOptions(smtp, password, 120_000) });
  const limitBytes = smtp.maxAttachmentMB * 1024 * 1024;
  return {
    async send(job) {
      const attached = job.sizeBytes <= limitBytes;
      const view = mailView(job.journal, policy, job.audioPath, job.sizeBytes, attached);
      const { subject, text } = renderMail(smtp.language, view);
      await transport.sendMail({
        from: smtp.from,
        to: job.to,
        subject,
        text,
        messageId: job.messageId,
        attachments: attached
          ? [{ filename: view.audioName, path: job.audioPath, contentType: 'audio/wav' }]
          : [],
      });
      return { attached };
    },
    close: () => transport.close(),
  };
}

/** Errors that say the server (or our settings for it) is the problem, not this one message. */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && ['ECONNECTION', 'ESOCKET', 'ETIMEDOUT', 'EDNS', 'EAUTH', 'ETLS', 'ECONNREFUSED'].includes(code);
}

function partyLabel(party: Party): string {
  return party.name ? `${party.name} (${party.number})` : party.number;
}

function formatTime(iso: string, language: Language): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(LOCALE[language], { dateStyle: 'medium', timeStyle: 'short' }).format(date);
}

/** The day from which retention lets the recording go; journals of year rules end on 1 January (local). */
function formatDate(date: Date, language: Language): string {
  if (Number.isNaN(date.getTime())) return '';
  return new Intl.DateTimeFormat(LOCALE[language], { dateStyle: 'long' }).format(new Date(date.getFullYear(), date.getMonth(), date.getDate()));
}

function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

function formatSize(bytes: number, language: Language): string {
  const [value, unit] = bytes < 1024 * 1024 ? [bytes / 1024, 'KB'] : [bytes / (1024 * 1024), 'MB'];
  return `${value.toLocaleString(LOCALE[language], { maximumFractionDigits: 1 })} ${unit}`;
}

function stripControl(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ');
}
