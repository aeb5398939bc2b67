// Fixtures for the web client tests: a small company policy, a spool with real WAV files and journals, and a
// CallControl that drives call state in memory (used where the runtime's own implementation is not needed).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { request as httpRequest, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Policy, PolicyUser } from '../../generator/policy.ts';
import type { ActiveCall, CallControl, ControlResult } from '../../runtime/call-control.ts';
import type { Journal } from '../../runtime/journal.ts';
import { createHttpServer } from '../../runtime/http-server.ts';
import { silentLogger } from '../../runtime/log.ts';
import { createWebClient, type WebClient, type WebDeps } from '../../runtime/web/routes.ts';
import { hashPassword } from '../../runtime/web/password-hash.ts';
import { storeWebUserHash } from '../../runtime/web/web-users-file.ts';

/** A real PCM WAV: 8 kHz, 16-bit, mono, a 440 Hz tone of `seconds`. */
export function wav(seconds: number): Buffer {
  const samples = Math.round(8000 * seconds);
  const buf = Buffer.alloc(44 + samples * 2);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + samples * 2, 4);
  buf.write('WAVEfmt ', 8, 'ascii');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(8000, 24);
  buf.writeUInt32LE(16000, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) buf.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000)), 44 + i * 2);
  return buf;
}

function user(id: string, name: string, ext: string, extra: Partial<PolicyUser> = {}): PolicyUser {
  return { id, name, ext, host: 'pbx-test', phones: [], mayRecordManually: false, canViewUsers: [], canViewNumbers: [], ...extra };
}

/**
 * anna (201) and ben (202) in sales; carla (301) in support (manual); eva (401) supervises sales (sees anna and ben);
 * frank (501) sees the support team number 300.
 */
export function testPolicy(spool: string, secretsDir: string, tls = false): Policy {
  const none = { decision: 'none' as const };
  return {
    version: 1,
    host: 'pbx-test',
    settings: {
      spool,
      format: 'wav',
      retentionDays: 90,
      objection: 'discard',
      deliverySchedule: '0 20 * * *',
      retentionSchedule: '30 3 * * *',
      secretsDir,
      http: { listen: '127.0.0.1:0', tls },
      ami: { host: '127.0.0.1', port: 5038, user: 'mitschnitt', secret: 'ami' },
      delivery: { maxAttempts: 10, scriptTimeoutSeconds: 300 },
      recordKey: { index: 5, label: 'Aufnahme', featureCode: '*1' },
    },
    numbers: Object.fromEntries(
      ['201', '202', '301', '401', '501'].map((ext) => [
        ext,
        { kind: 'user' as const, id: ext, name: ext, host: 'pbx-test', outbound: { internal: none, external: none }, inbound: { internal: none, external: none } },
      ]),
    ),
    rules: {
      'sales-external': { id: 'sales-external', name: 'Vertrieb: externe Gespräche', mode: 'auto', retentionDays: 180, deliver: {} },
      'support-manual': { id: 'support-manual', name: 'Kundendienst: auf Knopfdruck', mode: 'manual', retentionDays: 90, deliver: {} },
    },
    users: {
      anna: user('anna', 'Anna Berger', '201'),
      ben: user('ben', 'Ben Schulz', '202'),
      carla: user('carla', 'Carla Nowak', '301', { mayRecordManually: true }),
      eva: user('eva', 'Eva Klein', '401', { canViewUsers: ['anna', 'ben'] }),
      frank: user('frank', 'Frank Weber', '501', { canViewNumbers: ['300'] }),
    },
  };
}

export interface Party {
  number: string;
  name?: string;
  userId?: string;
}

export interface FixtureRecording {
  id: string;
  start: Date;
  seconds: number;
  caller: Party;
  callee: Party;
  direction: 'inbound' | 'outbound';
  origin?: 'internal' | 'external';
  decision?: 'auto' | 'force' | 'manual';
  rule?: string | null;
  /** Journal fields set over the fixture's (undefined ones are left out of the file). */
  journal?: Partial<Journal>;
}

/** Writes `<spool>/YYYY/MM/DD/<id>.wav` and its journal (per the journal contract); returns the two paths. */
export function writeRecording(spool: string, r: FixtureRecording): { audio: string; journal: string; bytes: Buffer } {
  const d = r.start;
  const dir = join(spool, String(d.getFullYear()), String(d.getMonth() + 1).padStart(2, '0'), String(d.getDate()).padStart(2, '0'));
  mkdirSync(dir, { recursive: true });
  const bytes = wav(r.seconds);
  const audio = join(dir, `${r.id}.wav`);
  const journal = join(dir, `${r.id}.json`);
  writeFileSync(audio, bytes);
  const entry: Journal = {
      version: 1,
      id: r.id,
      audio: `${r.id}.wav`,
      host: 'pbx-test',
      start: d.toISOString(),
      end: new Date(d.getTime() + r.seconds * 1000).toISOString(),
      durationSeconds: r.seconds,
      caller: r.caller,
      callee: r.callee,
      participants: [r.caller, r.callee],
      direction: r.direction,
      origin: r.origin ?? 'external',
      decision: r.decision ?? 'auto',
      rule: r.rule === undefined ? 'sales-external' : r.rule,
      sizeBytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      previousHash: null,
      channel: 'PJSIP/201-00000001',
      uniqueid: r.id.split('-')[0],
      linkedid: r.id.split('-')[0],
      retentionDays: 90,
      ...r.journal,
  };
  writeFileSync(journal, JSON.stringify(entry));
  return { audio, journal, bytes };
}

export const ANNA = { number: '201', name: 'Anna Berger', userId: 'anna' };
export const BEN = { number: '202', name: 'Ben Schulz', userId: 'ben' };
export const CARLA = { number: '301', name: 'Carla Nowak', userId: 'carla' };

/** The fixture journal: three of anna's calls, one of ben's, one of carla's support line. */
export function writeFixtureJournal(spool: string) {
  const at = (h: number, m: number) => new Date(2026, 10, 24, h, m, 0);
  return {
    annaOut: writeRecording(spool, { id: '1764000000.11-1764000000', start: at(9, 15), seconds: 3, caller: ANNA, callee: { number: '0301234567' }, direction: 'outbound' }),
    annaIn: writeRecording(spool, { id: '1764000100.12-1764000100', start: at(10, 2), seconds: 2, caller: { number: '0897654321', name: 'Kunde GmbH' }, callee: ANNA, direction: 'inbound' }),
    annaBen: writeRecording(spool, { id: '1764000200.13-1764000200', start: at(11, 30), seconds: 1.5, caller: ANNA, callee: BEN, direction: 'outbound', origin: 'internal', decision: 'force', rule: null }),
    ben: writeRecording(spool, { id: '1764000300.14-1764000300', start: at(12, 45), seconds: 2, caller: BEN, callee: { number: '0401112223' }, direction: 'outbound' }),
    carla: writeRecording(spool, { id: '1764000400.15-1764000400', start: at(14, 5), seconds: 2.5, caller: { number: '0305556667' }, callee: CARLA, direction: 'inbound', decision: 'manual', rule: 'support-manual' }),
  };
}

/** Call state held in memory, changed by the same methods the runtime's CallControl has. */
export class MemoryCallControl implements CallControl {
  calls: ActiveCall[] = [];
  private changeListeners = new Set<(userId: string) => void>();
  private journalListeners = new Set<(path: string) => void>();

  activeCalls(userId: string): ActiveCall[] {
    return this.calls.filter((c) => c.userId === userId).map((c) => ({ ...c, peer: { ...c.peer } }));
  }
  private change(userId: string, callId: string, f: (c: ActiveCall) => ControlResult): ControlResult {
    const call = this.calls.find((c) => c.userId === userId && c.id === callId);
    if (!call) return { ok: false, reason: 'no-call', message: 'no such call' };
    if (!call.manualAllowed) return { ok: false, reason: 'not-allowed', message: 'manual recording not allowed' };
    const result = f(call);
    this.emitChange(userId);
    return result;
  }
  async startRecording(userId: string, callId: string): Promise<ControlResult> {
    return this.change(userId, callId, (c) => {
      c.recording = true;
      c.paused = false;
      return { ok: true, recording: true, paused: false };
    });
  }
  async stopRecording(userId: string, callId: string): Promise<ControlResult> {
    return this.change(userId, callId, (c) => {
      c.recording = false;
      c.paused = false;
      return { ok: true, recording: false, paused: false };
    });
  }
  async setPaused(userId: string, callId: string, paused: boolean): Promise<ControlResult> {
    return this.change(userId, callId, (c) => {
      if (!c.recording) return { ok: false, reason: 'not-allowed', message: 'not recording' };
      c.paused = paused;
      return { ok: true, recording: true, paused };
    });
  }
  onChange(listener: (userId: string) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }
  onJournal(listener: (journalPath: string) => void): () => void {
    this.journalListeners.add(listener);
    return () => this.journalListeners.delete(listener);
  }
  emitChange(userId: string): void {
    for (const l of this.changeListeners) l(userId);
  }
  emitJournal(path: string): void {
    for (const l of this.journalListeners) l(path);
  }
}

export const PASSWORDS: Record<string, string> = {
  anna: 'anna-secret-1',
  ben: 'ben-secret-22',
  carla: 'carla-secret-333',
  eva: 'eva-secret-4444',
  frank: 'frank-secret-55555',
};

export interface Harness {
  dir: string;
  spool: string;
  secretsDir: string;
  policy: Policy;
  calls: MemoryCallControl;
  web: WebClient;
  server: Server;
  base: string;
  close(): Promise<void>;
}

/** A temp spool + secrets, passwords set, the web routes on a real HTTP server at 127.0.0.1:<free port>. */
export async function startHarness(options: Partial<WebDeps> & { tls?: boolean; calls?: CallControl } = {}): Promise<Harness & { fixtures: ReturnType<typeof writeFixtureJournal> }> {
  const dir = mkdtempSync(join(tmpdir(), 'mitschnitt-web-'));
  const spool = join(dir, 'spool');
  const secretsDir = join(dir, 'secrets');
  mkdirSync(spool, { recursive: true });
  const fixtures = writeFixtureJournal(spool);
  for (const [id, password] of Object.entries(PASSWORDS)) await storeWebUserHash(secretsDir, id, await hashPassword(password));
  const policy = testPolicy(spool, secretsDir, options.tls);
  const calls = (options.calls as MemoryCallControl | undefined) ?? new MemoryCallControl();
  const web = createWebClient({ policy, log: silentLogger, calls, rescanIntervalMs: 0, ...options });
  await web.ready;
  const server = createHttpServer(web.routes, silentLogger);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    dir,
    spool,
    secretsDir,
    policy,
    calls,
    web,
    server,
    base,
    fixtures,
    async close() {
      web.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface SignedIn {
  cookie: string;
  csrf: string;
}

export async function login(base: string, user: string, password = PASSWORDS[user]): Promise<SignedIn> {
  const res = await fetch(`${base}/api/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user, password }),
  });
  if (res.status !== 200) throw new Error(`login ${user}: ${res.status}`);
  const body = (await res.json()) as { csrf: string };
  return { cookie: res.headers.get('set-cookie')!.split(';')[0], csrf: body.csrf };
}

export interface RawResponse {
  status: number;
  headers: import('node:http').IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A request with the path sent exactly as given (fetch and URL would resolve `..` and `%2e%2e` before sending,
 * hiding what an attacker's client can send), optionally from another loopback source address.
 */
export function rawRequest(
  base: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; localAddress?: string } = {},
): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path, method: options.method ?? 'GET', headers: options.headers, localAddress: options.localAddress },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Opens /api/events for a signed-in user and collects its server-sent events; `until(n)` waits for n of them. */
export function openEvents(h: Harness, s: SignedIn) {
  const url = new URL(h.base);
  const events: { event: string; data: string }[] = [];
  const waiters: (() => void)[] = [];
  let buffer = '';
  const req = httpRequest({ host: url.hostname, port: url.port, path: '/api/events', headers: { Cookie: s.cookie } });
  let markEnded: () => void = () => {};
  const ended = new Promise<void>((resolve) => (markEnded = resolve));
  const opened = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      resolve(res.statusCode ?? 0);
      res.on('end', () => markEnded());
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1] ?? '';
          if (event) events.push({ event, data });
          waiters.splice(0).forEach((w) => w());
        }
      });
    });
    req.on('error', reject);
  });
  req.end();
  return {
    opened,
    ended,
    events,
    async until(n: number) {
      while (events.length < n) await new Promise<void>((r) => waiters.push(r));
    },
    close: () => req.destroy(),
  };
}
