// `mitschnitt deploy --bootstrap` against a real sshd and a real Asterisk 22, from a host with Asterisk but without
// mitschnitt (no package, user, spool or #include lines) to a recorded call journaled by the installed service;
// a second bootstrap changes nothing; `--uninstall` leaves a working Asterisk without mitschnitt.
// The "host" is this machine (root): the package is installed with apt-get, deploy writes /etc/mitschnitt,
// /etc/cron.d and /etc/systemd/system as on a PBX, and everything is removed again afterwards (machine.ts).
// systemd is not PID 1 here, so fixtures/bin/systemctl runs the installed unit's ExecStart for real.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { BUNDLED_RULES } from '../../bin/cli-support.ts';
import { INCLUDE_MARKER } from '../../ci/asterisk-includes.ts';
import type { HostResult } from '../../ci/deploy.ts';
import { freePort, startAsterisk, type AsteriskInstance } from '../engine/asterisk-instance.ts';
import { keygen, startSshd, type Sshd } from '../support/sshd.ts';
import { builtPackage, cleanMachine, installed, lockMachine, machineState, mustSh, type MachineState } from './machine.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE_BIN = fileURLToPath(new URL('./fixtures/bin', import.meta.url));
const SPOOL = '/var/spool/asterisk/mitschnitt';
const work = mkdtempSync(join(tmpdir(), 'mitschnitt-bootstrap-test-'));
const rules = join(work, 'rules');
const out = join(work, 'out');
const key = join(work, 'deploy_key');
const bin = join(work, 'bin');
const systemctlState = join(work, 'systemctl');
let unlock: () => Promise<void>;
let before: MachineState;
let ast: AsteriskInstance;
let sshd: Sshd;
let pkgFile: string;

// The admin's dialplan: calls from phones pass the routine, then leave through a "carrier" that answers for 3 s.
// [test-anna] stands in for Anna's phone (extension 201) so a call can be made with Originate, without a phone.
const ADMIN_DIALPLAN = `
[from-internal]
exten => _X.,1,Gosub(mitschnitt-check,s,1(\${FILTER(0-9*#+,\${CALLERID(num)})},\${FILTER(0-9*#+,\${EXTEN})}))
 same => n,Dial(Local/\${EXTEN}@to-carrier,20)
 same => n,Hangup()

[to-carrier]
exten => _0X.,1,Answer()
 same => n,Wait(3)
 same => n,Hangup()

[test-anna]
exten => _X.,1,Set(CALLERID(num)=201)
 same => n,Goto(from-internal,\${EXTEN},1)
`;

function mitschnitt(...args: string[]): { code: number; out: string } {
  const r = spawnSync(process.execPath, ['bin/mitschnitt.js', ...args], { cwd: REPO, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** The one host's result in a `--json` answer. */
function hostResult(r: { out: string }): HostResult {
  return JSON.parse(r.out.slice(r.out.indexOf('{'))).hosts[0];
}

/** The stand-in systemctl, with this test's state. */
function systemctl(...args: string[]) {
  return spawnSync(join(FIXTURE_BIN, 'systemctl'), args, { env: { ...process.env, SYSTEMCTL_STATE: systemctlState } });
}

const serviceLog = () => readFileSync(join(systemctlState, 'mitschnitt.log'), 'utf8').slice(-2000);

const CONFS = ['extensions.conf', 'manager.conf', 'features.conf'];
const readConfs = () => CONFS.map((c) => readFileSync(join(ast.etc, c), 'utf8'));

const deployArgs = () => ['--rules', rules, '--out', out, '--identity', key, '--allow-dirty', '--host', 'pbx-berlin', '--json'];

function journals(): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory() && !e.name.startsWith('.')) walk(join(d, e.name));
      else if (e.isFile() && e.name.endsWith('.json')) found.push(join(d, e.name));
    }
  };
  if (existsSync(SPOOL)) walk(SPOOL);
  return found;
}

test.before(async () => {
  unlock = await lockMachine();
  if (installed()) mustSh('apt-get purge -y -q mitschnitt 2>&1');
  before = machineState();
  pkgFile = builtPackage().file;

  const amiPort = await freePort();
  const httpPort = await freePort();
  ast = await startAsterisk({ extensions: ADMIN_DIALPLAN, amiPort });

  // `asterisk -rx` on the host reaches this instance; systemctl runs the service for real.
  mkdirSync(bin);
  writeFileSync(join(bin, 'asterisk'), `#!/bin/sh\nexec ${ast.prefix}/sbin/asterisk -C ${join(ast.etc, 'asterisk.conf')} "$@"\n`);
  chmodSync(join(bin, 'asterisk'), 0o755);
  keygen(key);
  sshd = await startSshd({
    clientKeyPath: key,
    env: { PATH: `${bin}:${FIXTURE_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, SYSTEMCTL_STATE: systemctlState, HOME: work },
  });

  // The bundled rules, with pbx-berlin pointing at this machine and this Asterisk.
  cpSync(BUNDLED_RULES, rules, { recursive: true });
  const hosts = JSON.parse(readFileSync(join(rules, 'hosts.json'), 'utf8'));
  Object.assign(hosts.hosts[0], { address: '127.0.0.1', port: sshd.port, hostKey: sshd.hostKey, asteriskDir: ast.etc });
  writeFileSync(join(rules, 'hosts.json'), JSON.stringify(hosts, null, 2));
  const settings = JSON.parse(readFileSync(join(rules, 'settings.json'), 'utf8'));
  Object.assign(settings, { ami: { port: amiPort }, http: { listen: `127.0.0.1:${httpPort}` } });
  writeFileSync(join(rules, 'settings.json'), JSON.stringify(settings, null, 2));
});

test.after(async () => {
  try {
    systemctl('stop', 'mitschnitt');
    await sshd?.stop();
    await ast?.stop();
    rmSync('/etc/cron.d/mitschnitt', { force: true });
    rmSync('/etc/systemd/system/mitschnitt.service', { force: true });
    cleanMachine(before);
  } finally {
    rmSync(work, { recursive: true, force: true });
    await unlock();
  }
});

test('deploy without --package refuses a host without mitschnitt, naming the fix, and changes nothing', () => {
  const r = mitschnitt('deploy', ...deployArgs());
  assert.is(r.code, 1, r.out);
  const result = hostResult(r);
  assert.match(result.reason!, 'pbx-berlin has no mitschnitt on the PATH, but these rules are built for mitschnitt');
  assert.match(result.reason!, '--package mitschnitt_');
  assert.not.ok(existsSync('/etc/mitschnitt/current'));
  assert.is(installed(), null);
});

test('bootstrap: package installed, first deploy, spool, #include lines, reloads, service started, test call verified', () => {
  assert.not.ok(existsSync(join(ast.etc, 'extensions.conf')) && readFileSync(join(ast.etc, 'extensions.conf'), 'utf8').includes('mitschnitt_'));
  const r = mitschnitt('deploy', '--bootstrap', '--package', pkgFile, ...deployArgs());
  assert.is(r.code, 0, r.out);
  const result = hostResult(r);
  assert.is(result.status, 'deployed', result.reason);
  const notes = result.notes.join('\n');
  assert.match(notes, /installed mitschnitt \d/);
  assert.match(notes, 'added the #include line to');
  assert.match(notes, /a test call \d+ → \d+ \(external\) was decided '\w+', as explain says/);
  assert.is(installed(), pkgFile.match(/mitschnitt_(.+)_/)![1]);
  assert.equal(result.reloaded, ['dialplan', 'manager', 'features']);

  for (const [conf, file] of [['extensions.conf', 'extensions_mitschnitt.conf'], ['manager.conf', 'manager_mitschnitt.conf'], ['features.conf', 'features_mitschnitt.conf']]) {
    const text = readFileSync(join(ast.etc, conf!), 'utf8');
    assert.ok(text.endsWith(`${INCLUDE_MARKER}\n#include "/etc/mitschnitt/current/asterisk/${file}"\n`), `${conf} ends with the marker and the include`);
  }
  assert.is(statSync(SPOOL).mode & 0o7777, 0o2770);
  assert.match(readFileSync(join(systemctlState, 'calls.log'), 'utf8'), /enable mitschnitt/);
  assert.ok(existsSync('/etc/cron.d/mitschnitt'));
  assert.ok(existsSync('/etc/systemd/system/mitschnitt.service'));
});

test('the installed service, logged in over AMI, journals a recorded call (Anna calls out: auto)', async () => {
  const ami = await ast.ami();
  // The runtime logs in with the AMI user the reload created: wait until Asterisk lists its session.
  const deadline = Date.now() + 20_000;
  while (!(await ast.cli('manager show connected')).includes('mitschnitt')) {
    if (Date.now() > deadline) assert.unreachable(`the service never logged in: ${serviceLog()}`);
    await sleep(250);
  }
  const seen = new Set(journals());
  const r = await ami.action('Originate', { Channel: 'Local/0301234567@test-anna/n', Application: 'Milliwatt', Async: 'true' });
  assert.ok(r.ok, r.message.get('Message'));
  let journal: string | undefined;
  while (!journal) {
    if (Date.now() > deadline + 30_000) assert.unreachable(`no journal: ${serviceLog()}`);
    await sleep(300);
    journal = journals().find((j) => !seen.has(j));
  }
  const j = JSON.parse(readFileSync(journal, 'utf8'));
  assert.is(j.decision, 'auto');
  assert.is(j.rule, 'sales-external');
  assert.is(j.caller.number, '201');
  assert.is(j.callee.number, '0301234567');
  assert.ok(j.durationSeconds >= 2, `duration ${j.durationSeconds}`);
  assert.ok(existsSync(journal.replace(/\.json$/, '.wav')));
  assert.is(mustSh(`stat -c %U ${journal}`).trim(), 'mitschnitt', 'written by the service, as its user');
});

test('a second bootstrap changes nothing: unchanged, nothing uploaded or reloaded, no line added twice', () => {
  const confs = readConfs();
  const r = mitschnitt('deploy', '--bootstrap', '--package', pkgFile, ...deployArgs());
  assert.is(r.code, 0, r.out);
  const result = hostResult(r);
  assert.is(result.status, 'unchanged', result.reason);
  assert.is(result.bytesUploaded, 0);
  assert.equal(result.reloaded, []);
  assert.is(result.restarted, false);
  assert.not.match(result.notes.join('\n'), /installed|added|created|service/);
  assert.equal(readConfs(), confs);
});

test('uninstall: includes gone, channelvars emptied, service stopped and disabled, releases gone; recordings kept; Asterisk still works', async () => {
  const recordings = journals();
  assert.ok(recordings.length > 0);
  const r = mitschnitt('deploy', '--uninstall', '--identity', key, '--rules', rules, '--out', out, '--host', 'pbx-berlin', '--json');
  assert.is(r.code, 0, r.out);
  const result = hostResult(r);
  assert.is(result.status, 'uninstalled', result.reason);
  assert.match(result.notes.join('\n'), `kept the recordings and journals in ${SPOOL}`);
  for (const conf of CONFS) {
    const text = readFileSync(join(ast.etc, conf), 'utf8');
    assert.not.match(text, '/etc/mitschnitt', `${conf} includes nothing of mitschnitt any more`);
    assert.not.match(text, INCLUDE_MARKER);
    assert.not.match(text, 'channelvars', 'the temporary channelvars reset is gone again');
  }
  // The admin's own Gosub lines stay (uninstall does not edit their dialplan) and are named, since they now fail.
  assert.match(result.notes.join('\n'), `your dialplan still calls mitschnitt-check in ${join(ast.etc, 'extensions.conf')}`);
  assert.match(await ast.cli('dialplan show mitschnitt-check'), "There is no existence of 'mitschnitt-check' context");
  assert.not.match(await ast.cli('manager show users'), /^\s*mitschnitt\s*$/m, 'the AMI user is gone');
  assert.not.match(await ast.cli('manager show settings'), /MITSCHNITT_/, 'channelvars emptied');
  assert.not.ok(existsSync('/etc/mitschnitt/current'));
  assert.not.ok(existsSync('/etc/mitschnitt/releases'));
  assert.not.ok(existsSync('/etc/cron.d/mitschnitt'));
  assert.not.ok(existsSync('/etc/systemd/system/mitschnitt.service'));
  assert.not.ok(existsSync(join(systemctlState, 'mitschnitt.enabled')), 'disabled');
  assert.ok(systemctl('is-active', 'mitschnitt').status !== 0, 'stopped');
  for (const j of recordings) assert.ok(existsSync(j), `${j} kept`);
  // Asterisk runs on, with the admin's own dialplan loaded.
  assert.match(await ast.cli('dialplan show to-carrier'), "'_0X.' =>");
});

test.run();
