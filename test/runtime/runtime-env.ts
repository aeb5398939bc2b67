/** A runtime under test: temp spool/config/secrets, a policy fixture, the fake AMI server, `startServe`. */
import { access, mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Policy } from '../../generator/policy.ts';
import type { Journal } from '../../runtime/journal.ts';
import { createLogger } from '../../runtime/log.ts';
import { recordingPath } from '../../runtime/recording-names.ts';
import { startServe, type ServeHandle, type ServeOptions } from '../../runtime/serve.ts';
import { FakeAmiServer, type CallOptions, type PhoneSpec } from '../support/fake-ami-server.ts';
import { AMI_EVENTS, AMI_VARSET_PATTERN } from '../../generator/render-manager.ts';
import { waitFor } from '../support/wait-for.ts';

export const CHANNELVARS = [
  'MITSCHNITT_DECISION', 'MITSCHNITT_RULE', 'MITSCHNITT_MANUAL', 'MITSCHNITT_CALLER', 'MITSCHNITT_CALLEE',
  'MITSCHNITT_ORIGIN', 'MITSCHNITT_DIRECTION', 'MITSCHNITT_FILE', 'MITSCHNITT_MIXMON_ID', 'MDC_MON_MODE',
];

export const ANNA = { mac: '00:04:13:aa:aa:01', ext: '201' };
export const BEN = { mac: '00:04:13:bb:bb:02', ext: '202' };
/** Carl's phone is registered with an address the tests never come from. */
export const CARL = { mac: '00:04:13:cc:cc:03', ext: '203', ip: '10.0.0.9' };
/** A user no rule covers. */
export const DORA = { mac: '00:04:13:dd:dd:04', ext: '204' };

export function phone(ext: string, callId = `${ext}-${Math.random().toString(36).slice(2)}@phone`): PhoneSpec {
  return { endpoint: `PJSIP/${ext}`, number: ext, callId };
}

export const TRUNK = (number: string): PhoneSpec => ({ endpoint: 'PJSIP/trunk', number, name: 'Kunde GmbH' });

export function policyFixture(spool: string, secretsDir: string, amiPort: number): Policy {
  const cells = (decision: 'auto' | 'manual' | 'none', rule?: string) => {
    const cell = rule ? { decision, rule } : { decision };
    return { internal: cell, external: cell };
  };
  const user = (id: string, name: string, ext: string, mac: string, manual: boolean, ip?: string) => ({
    id, name, ext, host: 'pbx1', phones: [ip ? { mac, model: 'D785', ip } : { mac, model: 'D785' }],
    mayRecordManually: manual, canViewUsers: [], canViewNumbers: [],
  });
  return {
    version: 1,
    host: 'pbx1',
    settings: {
      spool,
      format: 'wav',
      retentionDays: 90,
      deliverySchedule: '0 20 * * *',
      retentionSchedule: '30 3 * * *',
      secretsDir,
      http: { listen: '127.0.0.1:0', tls: false },
      ami: { host: '127.0.0.1', port: amiPort, user: 'mitschnitt', secret: 'ami' },
      delivery: { maxAttempts: 10, scriptTimeoutSeconds: 300 },
      recordKey: { index: 5, label: 'Aufnahme', featureCode: '*1' },
    } as Policy['settings'],
    numbers: {
      '201': { kind: 'user', id: 'anna', name: 'Anna Albers', host: 'pbx1', outbound: cells('auto', 'sales-auto'), inbound: cells('auto', 'sales-auto') },
      '202': { kind: 'user', id: 'ben', name: 'Ben Brandt', host: 'pbx1', outbound: cells('manual', 'support-manual'), inbound: cells('manual', 'support-manual') },
      '203': { kind: 'user', id: 'carl', name: 'Carl Clausen', host: 'pbx1', outbound: cells('manual', 'support-manual'), inbound: cells('manual', 'support-manual') },
      '204': { kind: 'user', id: 'dora', name: 'Dora Dietz', host: 'pbx1', outbound: cells('none'), inbound: cells('none') },
    },
    rules: {
      'sales-auto': { id: 'sales-auto', name: 'Sales', mode: 'auto', retentionDays: 30, deliver: { email: ['qa@example.com'], script: 'scripts/archive.sh' } },
      'support-manual': { id: 'support-manual', name: 'Support', mode: 'manual', retentionDays: 60, deliver: {} },
    },
    users: {
      anna: user('anna', 'Anna Albers', '201', ANNA.mac, false),
      ben: user('ben', 'Ben Brandt', '202', BEN.mac, true),
      carl: user('carl', 'Carl Clausen', '203', CARL.mac, true, CARL.ip),
      dora: user('dora', 'Dora Dietz', '204', DORA.mac, false),
    },
  };
}

export interface LogLine {
  level: string;
  msg: string;
  [k: string]: unknown;
}

export class RuntimeEnv {
  readonly logs: LogLine[] = [];
  serve: ServeHandle | null = null;
  fake!: FakeAmiServer;

  private constructor(
    readonly dir: string,
    readonly spool: string,
    readonly configDir: string,
    readonly secretsDir: string,
    readonly format: 'wav' | 'wav49',
  ) {}

  static async create(o: { channelvars?: string[]; amiSecret?: string; fileCloseDelayMs?: number; format?: 'wav' | 'wav49' } = {}): Promise<RuntimeEnv> {
    const dir = await mkdtemp(join(tmpdir(), 'mitschnitt-rt-'));
    const env = new RuntimeEnv(dir, join(dir, 'spool'), join(dir, 'current'), join(dir, 'secrets'), o.format ?? 'wav');
    await mkdir(env.spool, { recursive: true });
    await mkdir(env.configDir, { recursive: true });
    await mkdir(env.secretsDir, { recursive: true });
    env.fake = new FakeAmiServer({
      channelvars: o.channelvars ?? CHANNELVARS,
      secret: 'right-secret',
      loginFailureDelayMs: 20,
      eventFilter: { events: AMI_EVENTS, varSet: AMI_VARSET_PATTERN },
      ...(o.fileCloseDelayMs !== undefined ? { fileCloseDelayMs: o.fileCloseDelayMs } : {}),
    });
    const port = await env.fake.start();
    await writeFile(join(env.secretsDir, 'ami'), `${o.amiSecret ?? 'right-secret'}\n`);
    const policy = policyFixture(env.spool, env.secretsDir, port);
    policy.settings.format = env.format;
    await writeFile(join(env.configDir, 'policy.json'), JSON.stringify(policy, null, 2));
    return env;
  }

  async start(o: Partial<ServeOptions> = {}): Promise<ServeHandle> {
    const stream = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        for (const line of chunk.toString().split('\n')) if (line) this.logs.push(JSON.parse(line) as LogLine);
        done();
      },
    });
    this.serve = await startServe({
      configDir: this.configDir,
      log: createLogger({ stream, verbose: o.verbose ?? false }),
      listen: '127.0.0.1:0',
      web: false,
      settlePollMs: 10,
      recoveryMinIdleMs: 0,
      scanIntervalMs: 0,
      ami: { reconnectMinMs: 20, reconnectMaxMs: 200, heartbeatMs: 60_000, actionTimeoutMs: 2000 },
      ...o,
    });
    return this.serve;
  }

  async stopServe(): Promise<void> {
    await this.serve?.close();
    this.serve = null;
  }

  async dispose(): Promise<void> {
    await this.stopServe();
    await this.fake.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  get base(): string {
    return `http://127.0.0.1:${this.serve!.port}`;
  }

  /** The audio path the dialplan would give a recording on this channel uniqueid now. */
  audioPath(uniqueid: string, epoch = Math.floor(Date.now() / 1000)): string {
    return recordingPath(this.spool, uniqueid, epoch, this.format);
  }

  /**
   * A call from `from` to `to` recorded by the dialplan like `mitschnitt-check` does: the MITSCHNITT_* variables
   * on the calling channel (inherited ones with `__`), MixMonitor with `bi(MITSCHNITT_MIXMON_ID)` before Dial.
   */
  recordedCall(from: PhoneSpec, to: PhoneSpec, o: { decision?: string; rule?: string; direction?: string; origin?: string; answer?: boolean; callee?: string } = {}) {
    const uniqueid = this.fake.nextUniqueid();
    const file = this.audioPath(uniqueid);
    // `callee`: the number the routine decided for when the phone that answers is another (group, forward).
    const vars = dialplanVars(from.number, o.callee ?? to.number, o.decision ?? 'auto', o.rule ?? 'sales-auto', o.origin ?? 'external', o.direction ?? 'outbound');
    vars.MITSCHNITT_FILE = file;
    const options: CallOptions = { from, to, vars, record: { file } };
    if (o.answer === false) options.answer = false;
    return { ...this.fake.call(options), file };
  }

  /** A call where the dialplan decided without recording (manual, none, deny). */
  plainCall(from: PhoneSpec, to: PhoneSpec, decision: string, extra: Record<string, string> = {}) {
    const manual = decision === 'manual' ? '1' : '0';
    const rule = decision === 'manual' ? 'support-manual' : '';
    return this.fake.call({
      from, to,
      vars: { ...dialplanVars(from.number, to.number, decision, rule, 'external', decision === 'manual' ? 'outbound' : ''), __MITSCHNITT_MANUAL: manual, ...extra },
    });
  }

  async journals(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (d: string) => {
      for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
        if (e.isDirectory() && e.name !== '.mitschnitt') await walk(join(d, e.name));
        else if (e.name.endsWith('.json')) out.push(join(d, e.name));
      }
    };
    await walk(this.spool);
    return out.sort();
  }

  /** Every event the fake sent so far has reached the tracker: AMI answers in order, so a Ping round trip suffices. */
  async sync(): Promise<void> {
    await this.serve!.session.action('Ping', {}, 60_000);
  }

  /**
   * Waits until exactly `n` journals exist and the chain head names them (the writer puts a batch's journals in
   * place before it moves the head, and removes `chain-head.next` last), and returns their paths.
   */
  async waitForJournals(n: number, timeoutMs?: number): Promise<string[]> {
    let paths: string[] = [];
    const batchDone = () => access(join(this.spool, '.mitschnitt', 'chain-head.next')).then(() => false, () => true);
    await waitFor(`${n} journal(s)`, async () => (paths = await this.journals()).length === n && (await batchDone()), timeoutMs);
    return paths;
  }

  /**
   * The journals, once exactly `n` exist, by start; a part that continues another sorts after it when both
   * started in the same second.
   */
  async journalsInOrder(n: number): Promise<Journal[]> {
    const all = await Promise.all((await this.waitForJournals(n)).map((p) => this.readJson<Journal>(p)));
    return all.sort((a, b) => a.start.localeCompare(b.start) || (a.previousPart ? 1 : 0) - (b.previousPart ? 1 : 0));
  }

  /** Room for a wrong action to show up: every event processed, a moved call's settle time (20 ms) passed twice. */
  async quiet(): Promise<void> {
    await this.sync();
    await new Promise((r) => setTimeout(r, 80));
    await this.sync();
  }

  /** The actions of one kind the runtime sent the fake AMI, in order. */
  actions(name: string): { name: string; headers: [string, string][] }[] {
    return this.fake.actions.filter((a) => a.name === name.toLowerCase());
  }

  async readJson<T = Record<string, unknown>>(path: string): Promise<T> {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  }

  logged(msg: string): LogLine[] {
    return this.logs.filter((l) => l.msg === msg);
  }
}

function dialplanVars(caller: string, callee: string, decision: string, rule: string, origin: string, direction: string): Record<string, string> {
  return {
    __MITSCHNITT_DECISION: decision,
    __MITSCHNITT_RULE: rule,
    __MITSCHNITT_MANUAL: decision === 'manual' ? '1' : '0',
    __MITSCHNITT_CALLER: caller,
    __MITSCHNITT_CALLEE: callee,
    __MITSCHNITT_ORIGIN: origin,
    __MITSCHNITT_DIRECTION: direction,
  };
}

/** The first value of an action's header. */
export function header(headers: [string, string][], key: string): string | undefined {
  return headers.find(([n]) => n === key)?.[1];
}

export async function get(url: string): Promise<{ status: number; body: string; type: string | null }> {
  const r = await fetch(url);
  return { status: r.status, body: await r.text(), type: r.headers.get('content-type') };
}
