// Fixtures for the delivery tests: a spool with real WAV recordings and journals, and a policy pointing at it.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Policy, PolicyRule } from '../../generator/policy.ts';
import type { Smtp } from '../../generator/rule-set.ts';
import type { Journal } from '../../runtime/journal.ts';

/** 8 kHz, 16-bit mono PCM WAV of a 440 Hz tone: what MixMonitor writes for format 'wav'. */
export function wavBytes(seconds: number): Buffer {
  const rate = 8000;
  const samples = Math.round(seconds * rate);
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) data.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), i * 2);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

export interface TestPolicyOptions {
  spool: string;
  smtp?: Partial<Smtp> & { host: string; port: number };
  retentionDays?: number;
  maxAttempts?: number;
  scriptTimeoutSeconds?: number;
  rules?: PolicyRule[];
  secretsDir?: string;
}

export function testPolicy(o: TestPolicyOptions): Policy {
  const rules = o.rules ?? [
    { id: 'sales-external', name: 'Vertrieb extern', mode: 'auto', retentionDays: 180, deliver: { email: ['archiv@example.com'] } },
  ];
  return {
    version: 1,
    host: 'pbx-test',
    settings: {
      spool: o.spool,
      format: 'wav',
      retentionDays: o.retentionDays ?? 90,
      objection: 'discard',
      deliverySchedule: '0 20 * * *',
      retentionSchedule: '30 3 * * *',
      secretsDir: o.secretsDir ?? join(o.spool, '..', 'secrets'),
      smtp: o.smtp
        ? { security: 'none', maxAttachmentMB: 20, language: 'de', from: 'mitschnitt@example.com', ...o.smtp }
        : undefined,
      http: { listen: '127.0.0.1:8484', tls: false },
      ami: { host: '127.0.0.1', port: 5038, user: 'mitschnitt', secret: 'ami' },
      delivery: { maxAttempts: o.maxAttempts ?? 3, scriptTimeoutSeconds: o.scriptTimeoutSeconds ?? 10 },
      recordKey: { index: 5, label: 'Aufnahme', featureCode: '*1' },
    },
    numbers: {},
    rules: Object.fromEntries(rules.map((r) => [r.id, r])),
    users: {},
  };
}

/** A temp folder holding `spool/`, `config/` (policy.json, scripts/) and `secrets/`. */
export async function makeWorkspace(prefix = 'mitschnitt-delivery-'): Promise<{ root: string; spool: string; config: string; secrets: string }> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const spool = join(root, 'spool');
  const config = join(root, 'config');
  const secrets = join(root, 'secrets');
  for (const dir of [spool, join(config, 'scripts'), secrets]) await mkdir(dir, { recursive: true });
  return { root, spool, config, secrets };
}

export async function writePolicy(config: string, policy: Policy): Promise<void> {
  await writeFile(join(config, 'policy.json'), `${JSON.stringify(policy, null, 2)}\n`);
}

export interface Recording {
  id: string;
  audio: string;
  journal: string;
  bytes: Buffer;
}

/** Writes `<spool>/YYYY/MM/DD/<uniqueid>-<epoch>.wav` and its journal, the way the runtime does. */
export async function writeRecording(
  spool: string,
  o: { start: Date; seconds?: number; rule?: string | null; retentionDays?: number; uniqueid?: string; callerName?: string },
): Promise<Recording> {
  const epoch = Math.floor(o.start.getTime() / 1000);
  const uniqueid = o.uniqueid ?? `${epoch}.${Math.floor(Math.random() * 1e6)}`;
  const id = `${uniqueid}-${epoch}`;
  const pad = (n: number) => String(n).padStart(2, '0');
  const dir = join(spool, String(o.start.getFullYear()), pad(o.start.getMonth() + 1), pad(o.start.getDate()));
  await mkdir(dir, { recursive: true });
  const seconds = o.seconds ?? 2;
  const bytes = wavBytes(seconds);
  const audio = join(dir, `${id}.wav`);
  const journalPath = join(dir, `${id}.json`);
  await writeFile(audio, bytes);
  const journal: Journal = {
    version: 1,
    id,
    audio: `${id}.wav`,
    host: 'pbx-test',
    start: o.start.toISOString(),
    end: new Date(o.start.getTime() + seconds * 1000).toISOString(),
    durationSeconds: seconds,
    caller: { number: '201', name: o.callerName ?? 'Anna Schmidt', userId: 'anna' },
    callee: { number: '+4930123456' },
    participants: [{ number: '201', name: 'Anna Schmidt', userId: 'anna' }, { number: '+4930123456' }],
    direction: 'outbound',
    origin: 'external',
    decision: 'auto',
    rule: o.rule === undefined ? 'sales-external' : o.rule,
    sizeBytes: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    previousHash: null,
    channel: 'PJSIP/201-00000001',
    uniqueid,
    linkedid: uniqueid,
    retentionDays: o.retentionDays ?? 90,
  };
  await writeFile(journalPath, `${JSON.stringify(journal, null, 2)}\n`);
  return { id, audio, journal: journalPath, bytes };
}

/** A logger that keeps every line, for assertions on what an admin would see. */
export function memoryLogger() {
  const lines: { level: string; msg: string; [k: string]: unknown }[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push({ ...fields, level, msg });
  return { lines, log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

export interface ReceivedMail {
  envelopeTo: string[];
  user: string | undefined;
  /** Whether the session was encrypted (implicit TLS or STARTTLS). */
  secure: boolean;
  parsed: import('mailparser').ParsedMail;
}

/** A real SMTP server on 127.0.0.1 (free port) that keeps every message it accepts, parsed. */
export async function startSmtp(
  o: { auth?: { user: string; pass: string }; rejectRcpt?: boolean; port?: number; tls?: { key: Buffer; cert: Buffer; implicit: boolean } } = {},
) {
  const { SMTPServer } = await import('smtp-server');
  const { simpleParser } = await import('mailparser');
  const received: ReceivedMail[] = [];
  const server = new SMTPServer({
    secure: o.tls?.implicit ?? false,
    ...(o.tls ? { key: o.tls.key, cert: o.tls.cert } : {}),
    disabledCommands: [...(o.tls ? [] : ['STARTTLS']), ...(o.auth ? [] : ['AUTH'])],
    authOptional: !o.auth,
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (o.auth && auth.username === o.auth.user && auth.password === o.auth.pass) callback(null, { user: auth.username });
      else callback(new Error('Invalid username or password'));
    },
    onRcptTo(address, _session, callback) {
      if (o.rejectRcpt) {
        const err = new Error(`mailbox unavailable: ${address.address}`) as Error & { responseCode: number };
        err.responseCode = 550;
        return callback(err);
      }
      callback();
    },
    onData(stream, session, callback) {
      simpleParser(stream).then(
        (parsed) => {
          received.push({
            envelopeTo: session.envelope.rcptTo.map((r) => r.address),
            user: session.user as string | undefined,
            secure: session.secure,
            parsed,
          });
          callback();
        },
        (err: Error) => callback(err),
      );
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => resolve());
  });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A free TCP port on 127.0.0.1 that nothing listens on (for "mail server down"). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}
