// The bundled company on a real Asterisk: rules built by the real CLI, the generated dialplan, manager and
// features includes loaded into a throw-away instance as README tells admins, PJSIP endpoints for every user
// (static contacts where the test's SIPp phones listen), and `mitschnitt serve` attached over the real AMI.
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLED_RULES } from '../../bin/cli-support.ts';
import type { Policy } from '../../generator/policy.ts';
import type { Journal } from '../../runtime/journal.ts';
import { cli, Service } from '../e2e/harness.ts';
import { freePort, startAsterisk, type AsteriskInstance } from './asterisk-instance.ts';

export const HOST = 'pbx-engine';

/**
 * The admin's own dialplan around the routine, as README's "Dialplan" and "On the PBX" sections show it:
 * phones dial `[from-internal]`; `[from-trunk]` is what a carrier's calls enter with origin external.
 * `EXTERNAL` numbers (not extensions) leave through `[to-carrier]`, a Local channel that answers and echoes.
 * `dialOptions` go on both routes (e.g. `tT`: callee and caller may transfer by DTMF/Atxfer).
 */
function adminDialplan(dialOptions: string): string {
  return `
[mitschnitt-arm]
exten => s,1,ExecIf($["\${MITSCHNITT_MANUAL}" = "1"]?Set(DYNAMIC_FEATURES=\${DYNAMIC_FEATURES}\${IF($["\${DYNAMIC_FEATURES}" != ""]?#)}mitschnitt-record))
 same => n,Return()

[from-internal]
exten => _X.,1,Gosub(mitschnitt-check,s,1(\${FILTER(0-9*#+,\${CALLERID(num)})},\${FILTER(0-9*#+,\${EXTEN})}))
 same => n,Gosub(mitschnitt-arm,s,1)
 same => n,Goto(route,\${EXTEN},1)
; A prefix 9 is an IVR branch whose callers asked not to be recorded.
exten => _9X.,1,Set(__MDC_MON_MODE=deny)
 same => n,Goto(from-internal,\${EXTEN:1},1)

[from-trunk]
exten => _X.,1,Gosub(mitschnitt-check,s,1(\${FILTER(0-9*#+,\${CALLERID(num)})},\${FILTER(0-9*#+,\${EXTEN})},external))
 same => n,Goto(route,\${EXTEN},1)

[route]
exten => _[1-8]XX,1,Dial(PJSIP/\${EXTEN},20,b(mitschnitt-arm^s^1)${dialOptions})
 same => n,Hangup()
exten => _0X.,1,Dial(Local/\${EXTEN}@to-carrier,20${dialOptions ? `,${dialOptions}` : ''})
 same => n,Hangup()

[to-carrier]
exten => _0X.,1,Answer()
 same => n,Echo()
`;
}

export interface EnginePbxOptions {
  /** Extra extensions.conf text (the test's own contexts), after the admin's dialplan. */
  extensions?: string;
  /** Extra settings.json values (merged over the bundled settings). */
  settings?: Record<string, unknown>;
  /** Edits of the bundled rules' JSON before the build (file name → new content as an object). */
  files?: Record<string, unknown>;
  /** Extra PJSIP config appended after the generated endpoints. */
  pjsip?: string;
  /** Extra config files of the instance (queues.conf, confbridge.conf, res_parking.conf …). */
  configs?: Record<string, string>;
  /** Extra options of the admin dialplan's Dial routes (default none), e.g. `tT` to allow DTMF/Atxfer transfers. */
  dialOptions?: string;
  /** Extra lines of features.conf's [applicationmap] (the test's own DTMF features), before the generated include. */
  applicationmap?: string;
}

export interface EnginePbx {
  ast: AsteriskInstance;
  work: string;
  rules: string;
  /** The host's generated folder (what deploy would put at /etc/mitschnitt/current). */
  config: string;
  spool: string;
  secretsDir: string;
  httpPort: number;
  policy: Policy;
  /** UDP port where the SIPp phone of each extension listens (its endpoint's static contact). */
  phonePorts: Record<string, number>;
  serve?: Service;
  /** The journals in the spool, oldest first. */
  journals(): Journal[];
  /** Absolute paths of the audio files in the spool. */
  audioFiles(): string[];
  startServe(extraArgs?: string[]): Promise<Service>;
  stop(): Promise<void>;
}

/** Builds the bundled company for one host on 127.0.0.1 and starts Asterisk with the generated includes. */
export async function startEnginePbx(o: EnginePbxOptions = {}): Promise<EnginePbx> {
  const work = mkdtempSync(join(tmpdir(), 'mitschnitt-engine-'));
  const rules = join(work, 'rules');
  const spool = join(work, 'spool');
  const secretsDir = join(work, 'secrets');
  const out = join(work, 'out');
  for (const d of [spool, secretsDir]) mkdirSync(d, { recursive: true });
  cpSync(BUNDLED_RULES, rules, { recursive: true });
  const amiPort = await freePort();
  const httpPort = await freePort();

  const readJson = (f: string) => JSON.parse(readFileSync(join(rules, f), 'utf8')) as Record<string, unknown>;
  const writeJson = (f: string, v: unknown) => writeFileSync(join(rules, f), `${JSON.stringify(v, null, 2)}\n`);
  writeJson('hosts.json', { hosts: [{ name: HOST, address: '127.0.0.1', hostKey: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', dir: join(work, 'deployed') }] });
  const settings = readJson('settings.json');
  writeJson('settings.json', {
    ...settings,
    spool,
    secretsDir,
    http: { listen: `127.0.0.1:${httpPort}` },
    ami: { host: '127.0.0.1', port: amiPort },
    smtp: { ...(settings.smtp as object), host: '127.0.0.1', port: 1, security: 'none' },
    ...o.settings,
  });
  // One host for everybody; phones send their key presses from 127.0.0.1.
  const users = readJson('users.json') as { users: { ext: string; host?: string; phones: { ip?: string }[] }[] };
  for (const u of users.users) {
    delete u.host;
    for (const p of u.phones) p.ip = '127.0.0.1';
  }
  writeJson('users.json', users);
  for (const [file, content] of Object.entries(o.files ?? {})) writeJson(file, content);

  const built = await cli(['build', '--rules', rules, '--out', out]);
  if (built.code !== 0) throw new Error(`mitschnitt build failed: ${built.stdout}${built.stderr}`);
  const config = join(out, HOST);
  const policy = JSON.parse(readFileSync(join(config, 'policy.json'), 'utf8')) as Policy;

  // What deploy creates on a host: the secret for the runtime and the include that hands it to Asterisk.
  const secret = randomBytes(32).toString('hex');
  writeFileSync(join(secretsDir, 'ami'), `${secret}\n`, { mode: 0o600 });
  writeFileSync(join(secretsDir, 'ami.manager.conf'), `secret = ${secret}\n`, { mode: 0o600 });

  const phonePorts: Record<string, number> = {};
  for (const ext of Object.keys(policy.numbers)) if (policy.numbers[ext]!.kind === 'user') phonePorts[ext] = await freePort();
  const endpoints = `${Object.entries(phonePorts).map(([ext, port]) => phoneEndpoint(ext, port)).join('\n')}\n${CARRIER}`;

  const ast = await startAsterisk({
    amiPort,
    extensions: `${adminDialplan(o.dialOptions ?? '')}\n${o.extensions ?? ''}\n#include "${config}/asterisk/extensions_mitschnitt.conf"\n`,
    manager: `#include "${config}/asterisk/manager_mitschnitt.conf"\n`,
    configs: {
      'features.conf': `[general]\ntransferannouncesound =\ntransferdigittimeout = 3\n[featuremap]\natxfer => *2\nblindxfer => #1\n[applicationmap]\n${o.applicationmap ? `${o.applicationmap}\n` : ''}#include "${config}/asterisk/features_mitschnitt.conf"\n`,
      'pjsip.conf': `${endpoints}\n${o.pjsip ?? ''}`,
      ...o.configs,
    },
  });

  const pbx: EnginePbx = {
    ast,
    work,
    rules,
    config,
    spool,
    secretsDir,
    httpPort,
    policy,
    phonePorts,
    journals: () =>
      spoolFiles(spool, /\.json$/)
        .map((f) => JSON.parse(readFileSync(f, 'utf8')) as Journal)
        .sort((x, y) => x.start.localeCompare(y.start)),
    audioFiles: () => spoolFiles(spool, /\.(wav|WAV)$/),
    async startServe(extraArgs = []) {
      // MITSCHNITT_SERVE_NODE_OPTIONS reaches serve only, e.g. `--import <profiler>` to profile it under a benchmark.
      const serve = new Service(['serve', '--config', config, '--secrets', secretsDir, ...extraArgs], process.env.MITSCHNITT_SERVE_NODE_OPTIONS ? { NODE_OPTIONS: process.env.MITSCHNITT_SERVE_NODE_OPTIONS } : {});
      pbx.serve = serve;
      const deadline = Date.now() + 20_000;
      while (!serve.logged('AMI resync done').length) {
        if (!serve.running || Date.now() > deadline) throw new Error(`serve did not connect: ${JSON.stringify(serve.lines.slice(-5))} ${serve.garbage.join('\n')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return serve;
    },
    async stop() {
      await pbx.serve?.stop();
      await ast.stop();
      if (!process.env.MITSCHNITT_KEEP_ENGINE) rmSync(work, { recursive: true, force: true });
    },
  };
  return pbx;
}

/** Files under the spool whose names match, outside serve's own state folder. */
function spoolFiles(dir: string, name: RegExp): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.isDirectory()) return e.name === '.mitschnitt' ? [] : spoolFiles(join(dir, e.name), name);
    return name.test(e.name) ? [join(dir, e.name)] : [];
  });
}

/** The carrier's trunk: calls that carry `X-Trunk: carrier` enter [from-trunk] with the caller's number from From. */
const CARRIER = `[carrier]
type = endpoint
context = from-trunk
disallow = all
allow = alaw,ulaw
direct_media = no
rtp_symmetric = yes
dtmf_mode = rfc4733

[carrier]
type = identify
endpoint = carrier
match_header = X-Trunk: carrier
`;

/** A phone of the company: identified by its user name (From), reached at a static contact, RFC 4733 DTMF, record button. */
function phoneEndpoint(ext: string, port: number): string {
  return `[${ext}]
type = endpoint
context = from-internal
disallow = all
allow = alaw,ulaw
direct_media = no
rtp_symmetric = yes
dtmf_mode = rfc4733
one_touch_recording = yes
record_on_feature = mitschnitt-record
record_off_feature = mitschnitt-record
callerid = <${ext}>
aors = ${ext}

[${ext}]
type = aor
contact = sip:${ext}@127.0.0.1:${port}
`;
}
