// A throw-away real Asterisk 22 for a test: its own config folder, control socket, log and ports on 127.0.0.1,
// built once per machine by build-asterisk.sh; always stopped by the test (stop() in an `after` hook).
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AmiConnection, type AmiResponse } from '../../runtime/ami-client.ts';
import type { AmiMessage } from '../../runtime/ami-parser.ts';
import { silentLogger } from '../../runtime/log.ts';

const run = promisify(execFile);
const BUILD_SCRIPT = fileURLToPath(new URL('./build-asterisk.sh', import.meta.url));

let prefixCache: string | undefined;

/**
 * The install prefix of the test engine: $MITSCHNITT_ASTERISK_PREFIX, else what build-asterisk.sh prints
 * (seconds when the cache is warm; a cold build takes 30-45 min and is normally done by .ci/run beforehand).
 */
export function enginePrefix(): string {
  if (prefixCache) return prefixCache;
  const fromEnv = process.env.MITSCHNITT_ASTERISK_PREFIX;
  if (fromEnv) {
    if (!existsSync(join(fromEnv, 'sbin/asterisk'))) throw new Error(`MITSCHNITT_ASTERISK_PREFIX=${fromEnv} has no sbin/asterisk`);
    return (prefixCache = fromEnv);
  }
  const r = spawnSync('bash', [BUILD_SCRIPT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const prefix = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !existsSync(join(prefix, 'sbin/asterisk'))) throw new Error(`build-asterisk.sh failed (exit ${r.status})`);
  return (prefixCache = prefix);
}

/** A free TCP port on 127.0.0.1 (UDP ports are taken from the same number: SIP uses both with the same value). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.on('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    if (await udpFree(port)) return port;
  }
}

async function udpFree(port: number): Promise<boolean> {
  const dgram = await import('node:dgram');
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A block of consecutive free UDP ports (RTP) of the given even size, starting at an even number. */
async function freeRtpRange(size: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const start = 20000 + 2 * Math.floor(Math.random() * 10000);
    let ok = true;
    for (let p = start; p < start + size && ok; p += 8) ok = await udpFree(p);
    if (ok) return start;
  }
  throw new Error('no free RTP port range');
}

export interface AsteriskOptions {
  /** extensions.conf body (the [general] section is added); use #include for generated files. */
  extensions: string;
  /** More files for the etc folder (pjsip.conf, features.conf, iax.conf, queues.conf, confbridge.conf …). */
  configs?: Record<string, string>;
  /** Extra manager.conf text appended after the test's own AMI user (e.g. an #include of a generated file). */
  manager?: string;
  /** The AMI port (a free one when not given; give it when generated files must name it beforehand). */
  amiPort?: number;
  /** Modules not to load on top of the default list (noload => …). */
  noload?: string[];
}

export interface AsteriskInstance {
  /** The instance's root folder: etc/, log/, run/, spool/, lib/. */
  readonly dir: string;
  readonly etc: string;
  readonly amiPort: number;
  /** UDP/TCP port of the PJSIP transport on 127.0.0.1. */
  readonly sipPort: number;
  /** UDP port chan_iax2 binds when iax.conf is given (bindport => ${iaxPort} is filled in). */
  readonly iaxPort: number;
  readonly prefix: string;
  /** The running Asterisk process (for CPU figures). */
  pid(): number;
  /** `asterisk -rx` through this instance's control socket; resolves with stdout (exit 0 says nothing, see FACTS). */
  cli(command: string): Promise<string>;
  /** The full log (verbose 3: every executed priority) as written so far. */
  log(): string;
  /** The log's size in bytes now: a mark for logSince(). */
  logMark(): number;
  /** The log written since a mark. */
  logSince(mark: number): string;
  /** A new AMI connection logged in as the test's all-rights user. */
  ami(): Promise<TestAmi>;
  /** Stops Asterisk (core stop now, then SIGKILL) and removes the folder unless MITSCHNITT_KEEP_ENGINE is set. */
  stop(): Promise<void>;
  /** Stops the process but keeps the folder, then starts it again on the same config and ports. */
  restart(): Promise<void>;
}

/** The AMI account every test instance has with all rights, next to whatever the test includes. */
const TEST_AMI_USER = 'enginetest';
const TEST_AMI_SECRET = 'enginetest-secret';

/** Modules a test never needs that slow the start or bind ports of their own. */
const DEFAULT_NOLOAD = ['chan_iax2.so', 'pbx_dundi.so', 'res_hep.so', 'res_hep_pjsip.so', 'res_hep_rtcp.so', 'res_statsd.so', 'res_pjsip_outbound_publish.so', 'res_pjsip_publish_asterisk.so', 'res_pktccops.so'];

export async function startAsterisk(options: AsteriskOptions): Promise<AsteriskInstance> {
  const prefix = enginePrefix();
  // The control socket path must stay short (sun_path is 108 bytes).
  const dir = mkdtempSync('/tmp/ast-');
  const etc = join(dir, 'etc');
  for (const sub of ['etc', 'log', 'run', 'spool', 'lib', 'agi', 'keys']) mkdirSync(join(dir, sub), { recursive: true });
  const amiPort = options.amiPort ?? (await freePort());
  const sipPort = await freePort();
  const iaxPort = await freePort();
  const rtpStart = await freeRtpRange(400);
  const noload = [...DEFAULT_NOLOAD, ...(options.noload ?? [])].filter((m) => !(m === 'chan_iax2.so' && options.configs?.['iax.conf']));

  const files: Record<string, string> = {
    'asterisk.conf': `[directories]
astetcdir => ${etc}
astmoddir => ${prefix}/lib/asterisk/modules
astvarlibdir => ${dir}/lib
astdbdir => ${dir}/lib
astkeydir => ${dir}/keys
astdatadir => ${prefix}/var/lib/asterisk
astagidir => ${dir}/agi
astspooldir => ${dir}/spool
astrundir => ${dir}/run
astlogdir => ${dir}/log
astsbindir => ${prefix}/sbin
[options]
verbose = 3
debug = 0
nocolor = yes
transmit_silence = no
`,
    // The tests count executed priorities in this log: under load Asterisk drops lines past its queue limit
    // (default 1000, "Log queue threshold exceeded"), so the limit is raised far beyond a test's burst.
    'logger.conf': `[general]
dateformat = %F %T.%3q
logger_queue_limit = 10000000
[logfiles]
full => notice,warning,error,verbose,dtmf
`,
    'modules.conf': `[modules]
autoload = yes
${noload.map((m) => `noload => ${m}`).join('\n')}
load => res_timing_timerfd.so
`,
    'manager.conf': `[general]
enabled = yes
port = ${amiPort}
bindaddr = 127.0.0.1

[${TEST_AMI_USER}]
secret = ${TEST_AMI_SECRET}
read = all
write = all
permit = 127.0.0.1/255.255.255.255
${options.manager ?? ''}
`,
    'extensions.conf': `[general]
static = yes
writeprotect = yes
autofallthrough = yes
clearglobalvars = no

${options.extensions}
`,
    'rtp.conf': `[general]\nrtpstart = ${rtpStart}\nrtpend = ${rtpStart + 398}\n`,
    'features.conf': '[general]\ntransferannouncesound =\n[featuremap]\natxfer => *2\nblindxfer => #1\n[applicationmap]\n',
    'pjsip.conf': pjsipTransport(sipPort),
    'musiconhold.conf': '[default]\nmode = files\ndirectory = /nonexistent\n',
    'indications.conf': '[general]\ncountry = de\n[de]\ndescription = Germany\nringcadence = 1000,4000\ndial = 425\nbusy = 425/480,0/480\nring = 425/1000,0/4000\ncongestion = 425/240,0/240\ncallwaiting = 425/200,0/200,425/200,0/5000\nrecord = 1400/80,0/15000\ninfo = 950/330,1400/330,1800/330,0/1000\n',
    ...options.configs,
  };
  if (options.configs?.['pjsip.conf']) files['pjsip.conf'] = pjsipTransport(sipPort) + options.configs['pjsip.conf'];
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(etc, name), text.replaceAll('${sipPort}', String(sipPort)).replaceAll('${iaxPort}', String(iaxPort)));
  }

  const conf = join(etc, 'asterisk.conf');
  const binary = join(prefix, 'sbin/asterisk');
  let proc: ChildProcess | undefined;

  const cli = async (command: string) => {
    const { stdout } = await run(binary, ['-C', conf, '-rx', command], { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  };

  const boot = async () => {
    proc = spawn(binary, ['-C', conf, '-f', '-n'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (d) => (stderr += d));
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`asterisk exited with ${proc.exitCode}: ${stderr}`);
      if (existsSync(join(dir, 'run/asterisk.ctl'))) {
        try {
          await cli('core waitfullybooted');
          return;
        } catch {
          /* the socket exists before Asterisk accepts on it */
        }
      }
      if (Date.now() > deadline) throw new Error(`asterisk did not boot within 60 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const halt = async () => {
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc!.once('exit', r));
    await cli('core stop now').catch(() => undefined);
    const timer = setTimeout(() => proc?.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    rmSync(join(dir, 'run/asterisk.ctl'), { force: true });
  };

  const amis: TestAmi[] = [];
  const logFile = join(dir, 'log/full');
  await boot();
  return {
    dir,
    etc,
    amiPort,
    sipPort,
    iaxPort,
    prefix,
    cli,
    pid: () => proc?.pid ?? 0,
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    logMark: () => (existsSync(logFile) ? statSync(logFile).size : 0),
    logSince(mark) {
      if (!existsSync(logFile)) return '';
      const fd = openSync(logFile, 'r');
      try {
        const size = fstatSync(fd).size;
        const buf = Buffer.alloc(Math.max(0, size - mark));
        readSync(fd, buf, 0, buf.length, mark);
        return buf.toString('utf8');
      } finally {
        closeSync(fd);
      }
    },
    async ami() {
      const ami = await connectAmi(amiPort, TEST_AMI_USER, TEST_AMI_SECRET);
      amis.push(ami);
      return ami;
    },
    async stop() {
      for (const a of amis) a.close();
      await halt();
      if (!process.env.MITSCHNITT_KEEP_ENGINE) rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await halt();
      await boot();
    },
  };
}

function pjsipTransport(port: number): string {
  return `[transport-udp]
type = transport
protocol = udp
bind = 127.0.0.1:${port}

[transport-tcp]
type = transport
protocol = tcp
bind = 127.0.0.1:${port}

`;
}

/** A logged-in AMI connection for a test: actions, and every event kept for later assertions. */
export interface TestAmi {
  action(name: string, fields?: Record<string, string>, timeoutMs?: number): Promise<AmiResponse>;
  /** Every event received so far, in order. */
  readonly events: AmiMessage[];
  /** When an event of `events` arrived (Date.now()), for latency figures. */
  receivedAt(m: AmiMessage): number | undefined;
  /** Resolves with the first event (already received or coming) that matches. */
  waitFor(match: (m: AmiMessage) => boolean, timeoutMs?: number, what?: string, since?: number): Promise<AmiMessage>;
  close(): void;
}

export async function connectAmi(port: number, username: string, secret: string): Promise<TestAmi> {
  const socket = net.connect(port, '127.0.0.1');
  const events: AmiMessage[] = [];
  const arrivals = new WeakMap<AmiMessage, number>();
  const waiters = new Set<{ match: (m: AmiMessage) => boolean; resolve: (m: AmiMessage) => void }>();
  let bannerSeen!: () => void;
  const banner = new Promise<void>((r) => (bannerSeen = r));
  const conn = new AmiConnection(socket, silentLogger, {
    onEvent(m) {
      arrivals.set(m, Date.now());
      events.push(m);
      for (const w of waiters) if (w.match(m)) {
        waiters.delete(w);
        w.resolve(m);
      }
    },
    onBanner: () => bannerSeen(),
    onClose: () => undefined,
  });
  await banner;
  const login = await conn.action('Login', { Username: username, Secret: secret, Events: 'on' });
  if (!login.ok) throw new Error(`AMI login as ${username} failed: ${login.message.get('Message')}`);
  return {
    action: (name, fields = {}, timeoutMs = 10_000) => conn.action(name, fields, timeoutMs),
    events,
    receivedAt: (m) => arrivals.get(m),
    waitFor(match, timeoutMs = 15_000, what = 'an AMI event', since = 0) {
      const seen = events.slice(since).find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { match, resolve: (m: AmiMessage) => (clearTimeout(timer), resolve(m)) };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`no ${what} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(w);
      });
    },
    close: () => conn.destroy(),
  };
}
