// Deploy and plan as a non-root SSH user through `sudo -n` (Debian sudo, a real sudoers.d drop-in), against the
// real sshd "PBX": the deploy user logs in with its own key from its own ~/.ssh, writes only its upload folder,
// and everything installed ends up exactly as a root deploy leaves it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployHost, type DeployOptions, type ProgressEvent } from '../../ci/deploy.ts';
import { planHost } from '../../ci/plan-command.ts';
import { readLocalRelease } from '../../ci/release-files.ts';
import { sudoersLine } from '../../ci/sudo.ts';
import type { Host } from '../../generator/rule-set.ts';
import { keygen } from '../support/sshd.ts';
import { buildRelease, deployOptions, startPbx, STANDIN_BIN, type Pbx } from './pbx-fixture.ts';
import { versionOf, type ReleaseSpec } from './release-fixture.ts';

const USER = 'mitschnitt-deploy-t';
const SUDOERS = `/etc/sudoers.d/mitschnitt-test-${process.pid}`;

const work = mkdtempSync(join(tmpdir(), 'mitschnitt-sudo-test-'));
chmodSync(work, 0o755);
const home = join(work, 'home');
const key = join(work, 'deploy_key');
const rootKey = join(work, 'root_key');
keygen(key);
keygen(rootKey);
const out = join(work, 'out');
const pbxs: Pbx[] = [];

const createdUser = !userExists(USER);
if (createdUser) execFileSync('useradd', ['--system', '--shell', '/bin/bash', '--home-dir', home, '--no-create-home', '--password', '*', USER]);
else execFileSync('usermod', ['--home', home, USER]);
const uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim());
mkdirSync(join(home, '.ssh'), { recursive: true });
writeFileSync(join(home, '.ssh/authorized_keys'), readFileSync(`${key}.pub`));
for (const p of [home, join(home, '.ssh'), join(home, '.ssh/authorized_keys')]) chownSync(p, uid, uid);

function userExists(name: string): boolean {
  try {
    execFileSync('id', ['-u', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The admin's drop-in: the README's rule, plus the test host's PATH (stand-in asterisk, systemctl) and its env. */
function allowSudo(on: boolean): void {
  if (!on) return rmSync(SUDOERS, { force: true });
  const text = [
    `Defaults:${USER} secure_path="${STANDIN_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"`,
    `Defaults:${USER} env_keep += "FAKE_ASTERISK_DIR FAKE_ASTERISK_STATE"`,
    sudoersLine(USER),
    '',
  ].join('\n');
  writeFileSync(`${SUDOERS}.check`, text, { mode: 0o440 });
  execFileSync('visudo', ['-cqf', `${SUDOERS}.check`]);
  rmSync(`${SUDOERS}.check`);
  writeFileSync(SUDOERS, text, { mode: 0o440 });
}

test.before(() => allowSudo(true));

test.after(async () => {
  allowSudo(false);
  await Promise.all(pbxs.map((p) => p.stop()));
  if (createdUser) execFileSync('userdel', [USER]);
  rmSync(work, { recursive: true, force: true });
});

async function pbx(name: string): Promise<{ p: Pbx; host: Host }> {
  const p = await startPbx(name, { clientKeyPath: rootKey, homeKeys: true });
  pbxs.push(p);
  chmodSync(p.root, 0o755); // mkdtemp made it 0700: the deploy user must reach <dir> (as it reaches /etc/mitschnitt)
  return { p, host: { ...p.host, user: USER } };
}

const options = (p: Pbx, extra: Partial<DeployOptions> = {}) => deployOptions(p, key, extra);

const build = (p: Pbx, spec: Partial<ReleaseSpec> = {}) => buildRelease(out, p, spec);

const current = (p: Pbx) => readlinkSync(join(p.host.dir, 'current'));
const loadedDialplan = (p: Pbx) => readFileSync(join(p.state, 'dialplan.loaded'), 'utf8');

/** Owner, group and mode of a path, as `0:0 0644`. */
function ownership(path: string): string {
  const s = lstatSync(path);
  return `${s.uid}:${s.gid} ${(s.mode & 0o7777).toString(8).padStart(4, '0')}`;
}

/** Everything under host.dir that is not root:root (the deploy user owns nothing once a deploy is done). */
function notRootOwned(dir: string): string[] {
  const found: string[] = [];
  const walk = (path: string) => {
    const s = lstatSync(path);
    if (s.uid !== 0 || s.gid !== 0) found.push(path);
    if (s.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
  return found;
}

test('the deploy user logs in with its own key, not as root', async () => {
  const { p, host } = await pbx('whoami');
  const r = await deployHost({ ...host, user: 'root' }, build(p), options(p));
  assert.is(r.status, 'failed', 'the deploy key is not authorised for root');
  assert.match(r.reason!, 'All configured authentication methods failed');
});

test('first deploy as a non-root user through sudo: installed root-owned with the manifest\'s modes, reloaded and verified', async () => {
  const { p, host } = await pbx('first');
  const release = build(p);
  const r = await deployHost(host, release, options(p));
  assert.is(r.status, 'deployed', r.reason);
  assert.is(current(p), `releases/${release.id}`);
  const rel = join(p.host.dir, 'releases', release.id);
  for (const [path, entry] of Object.entries(release.manifest.files)) {
    assert.is(ownership(join(rel, path)), `0:0 ${entry.mode}`, path);
    assert.ok(readFileSync(join(rel, path)).equals(release.read(path)), `${path} content`);
  }
  assert.is(ownership(join(rel, 'manifest.json')), '0:0 0644');
  assert.is(ownership(rel), '0:0 0755');
  assert.is(ownership(join(rel, 'scripts')), '0:0 0755');
  assert.equal(notRootOwned(p.host.dir).filter((f) => !f.startsWith(p.secretsDir)), [], 'nothing under host.dir belongs to the deploy user');
  assert.not.ok(existsSync(join(p.host.dir, 'staging')), 'the upload folder is gone');
  assert.is(ownership(join(p.cronDir, 'mitschnitt')), '0:0 0644');
  assert.is(ownership(join(p.systemdDir, 'mitschnitt.service')), '0:0 0644');
  const runtimeUid = userExists('mitschnitt') ? execFileSync('id', ['-u', 'mitschnitt'], { encoding: 'utf8' }).trim() : '0';
  assert.is(ownership(join(p.secretsDir, 'ami')), `${runtimeUid}:0 0600`, 'the secret belongs to the runtime user, as in a root deploy');
  assert.match(readFileSync(join(p.secretsDir, 'ami'), 'utf8'), /^[0-9a-f]{64}$/);
  assert.equal(p.systemctlCalls(), ['daemon-reload', 'enable mitschnitt', 'restart mitschnitt']);
  assert.equal(p.asteriskCommands(), ['dialplan show version@mitschnitt-check', 'dialplan reload', 'manager reload', 'module reload features', 'dialplan show version@mitschnitt-check']);
  assert.match(loadedDialplan(p), `NoOp(mitschnitt ${versionOf(release.read('asterisk/extensions_mitschnitt.conf').toString())})`);
  assert.is(r.filesUploaded, Object.keys(release.manifest.files).length + 1);
});

test('unchanged re-deploy as the deploy user uploads 0 bytes and reloads nothing; plan through sudo agrees', async () => {
  const { p, host } = await pbx('unchanged');
  const release = build(p);
  assert.is((await deployHost(host, release, options(p))).status, 'deployed');
  p.clearLogs();
  const again = await deployHost(host, readLocalRelease(out, p.host.name), options(p));
  assert.is(again.status, 'unchanged', again.reason);
  assert.is(again.bytesUploaded, 0);
  assert.equal(again.reloaded, []);
  assert.equal(p.asteriskCommands(), ['dialplan show version@mitschnitt-check']);
  assert.equal(p.systemctlCalls(), []);

  const unchanged = await planHost(host, out, { privateKey: readFileSync(key) });
  assert.is(unchanged.status, 'unchanged', unchanged.error);
  build(p, { extra: { 'asterisk/features_mitschnitt.conf': '[featuremap]\nautomixmon => *8\n' } });
  const changes = await planHost(host, out, { privateKey: readFileSync(key) });
  assert.is(changes.status, 'changes', changes.error);
  assert.match(changes.diffs!['asterisk/features_mitschnitt.conf']!, '+automixmon => *8');
});

test('a changed file uploaded as the deploy user replaces its root-owned copy; a refused reload rolls back', async () => {
  const { p, host } = await pbx('rollback');
  const good = build(p);
  assert.is((await deployHost(host, good, options(p))).status, 'deployed');
  const changed = build(p, { extra: { 'scripts/archive.sh': '#!/bin/sh\ncp "$1" "$2" /archive2/\n' }, commit: 'b'.repeat(40) });
  const r = await deployHost(host, changed, options(p));
  assert.is(r.status, 'deployed', r.reason);
  assert.is(r.filesUploaded, 2);
  assert.is(ownership(join(p.host.dir, 'current/scripts/archive.sh')), '0:0 0755');
  assert.is(ownership(join(p.host.dir, 'current/asterisk/features_mitschnitt.conf')), '0:0 0644', 'copied on the host, ownership kept');

  p.clearLogs();
  p.flag('fail-dialplan', true);
  const bad = build(p, { dialplanBody: 'exten => s,1,Return(broken)' });
  const failed = await deployHost(host, bad, options(p));
  assert.is(failed.status, 'failed');
  assert.ok(failed.rolledBack);
  assert.match(failed.reason!, `rolled back to release ${changed.id}`);
  assert.is(current(p), `releases/${changed.id}`);
  assert.not.ok(existsSync(join(p.host.dir, 'releases', bad.id)), 'the failed release is removed');
  assert.equal(p.asteriskCommands(), ['dialplan show version@mitschnitt-check', 'dialplan reload', 'dialplan show version@mitschnitt-check', 'dialplan reload', 'dialplan show version@mitschnitt-check']);
  assert.not.match(loadedDialplan(p), 'Return(broken)');
  assert.not.ok(existsSync(join(p.host.dir, 'deploy.lock')), 'lock released');
  p.flag('fail-dialplan', false);
});

test('a connection cut during the upload leaves the old set; the next deploy clears the upload folder and succeeds', async () => {
  const { p, host } = await pbx('cut');
  const good = build(p);
  assert.is((await deployHost(host, good, options(p))).status, 'deployed');
  const next = build(p, { dialplanBody: 'exten => s,1,Return(next)', extra: { 'snom/big.xml': 'x'.repeat(200_000) } });
  let killed = false;
  const onProgress = (e: ProgressEvent) => {
    if (!killed && e.phase === 'upload' && e.detail?.startsWith('2/')) {
      killed = true;
      for (const pid of p.sshd.sessionPids()) process.kill(pid, 'SIGKILL');
    }
  };
  const r = await deployHost(host, next, options(p, { onProgress }));
  assert.ok(killed);
  assert.is(r.status, 'failed');
  assert.is(current(p), `releases/${good.id}`);
  const retry = await deployHost(host, next, options(p));
  assert.is(retry.status, 'deployed', retry.reason);
  assert.match(retry.notes.join(' '), 'took over a stale deploy lock: its deploy is gone', 'the lock keeper under sudo died with the connection');
  assert.is(current(p), `releases/${next.id}`);
  assert.not.ok(existsSync(join(p.host.dir, 'staging')), 'no upload leftovers');
  assert.equal(notRootOwned(p.host.dir).filter((f) => !f.startsWith(p.secretsDir)), []);
});

test('a big phone fleet (1,500 provisioning files) deploys through sudo: no command line grows with the file count', async () => {
  const { p, host } = await pbx('fleet');
  const extra: Record<string, string> = {};
  for (let i = 0; i < 1500; i++) extra[`snom/000413${i.toString(16).padStart(6, '0')}.xml`] = `<settings>${i}</settings>\n`;
  const first = build(p, { extra });
  const r = await deployHost(host, first, options(p));
  assert.is(r.status, 'deployed', r.reason);
  assert.is(r.filesUploaded, Object.keys(first.manifest.files).length + 1);
  const next = build(p, { extra, dialplanBody: 'exten => s,1,Return(fleet)' });
  const r2 = await deployHost(host, next, options(p));
  assert.is(r2.status, 'deployed', r2.reason);
  assert.is(r2.filesCopied, Object.keys(next.manifest.files).length - 1);
  assert.is(ownership(join(p.host.dir, 'current/snom/0004130005db.xml')), '0:0 0644');
});

test('without the sudo rule: deploy and plan fail at once naming the sudoers line, and nothing on the host changes', async () => {
  const { p, host } = await pbx('no-rule');
  const good = build(p);
  assert.is((await deployHost(host, good, options(p))).status, 'deployed');
  const before = readdirSync(p.host.dir).sort();
  p.clearLogs();
  allowSudo(false);
  try {
    const r = await deployHost(host, build(p, { dialplanBody: 'exten => s,1,Return(v2)' }), options(p));
    assert.is(r.status, 'failed');
    assert.match(r.reason!, `SSH user '${USER}' cannot run commands as root through sudo without a password`);
    assert.match(r.reason!, 'a password is required');
    assert.match(r.reason!, `visudo -f /etc/sudoers.d/mitschnitt`);
    assert.match(r.reason!, `${USER} ALL=(root) NOPASSWD: /bin/sh`);
    assert.is(current(p), `releases/${good.id}`);
    assert.equal(readdirSync(p.host.dir).sort(), before, 'no lock, upload folder or pending file');
    assert.equal(readdirSync(join(p.host.dir, 'releases')), [good.id]);
    assert.equal(p.asteriskCommands(), []);
    assert.equal(p.systemctlCalls(), []);
    const plan = await planHost(host, out, { privateKey: readFileSync(key) });
    assert.is(plan.status, 'error');
    assert.match(plan.error!, `${USER} ALL=(root) NOPASSWD: /bin/sh`);
  } finally {
    allowSudo(true);
  }
});

test.run();
