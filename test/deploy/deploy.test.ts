import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployAll, deployHost, type DeployOptions, type ProgressEvent } from '../../ci/deploy.ts';
import { readLocalRelease } from '../../ci/release-files.ts';
import { acquireLock } from '../../ci/remote-lock.ts';
import { connectSsh } from '../../ci/ssh-connection.ts';
import { sshTarget } from '../../ci/deploy.ts';
import { keygen } from '../support/sshd.ts';
import { buildRelease, deployOptions, startPbx, writeAsteriskConfig, type Pbx } from './pbx-fixture.ts';
import { versionOf, type ReleaseSpec } from './release-fixture.ts';

const work = mkdtempSync(join(tmpdir(), 'mitschnitt-deploy-test-'));
const clientKeyPath = join(work, 'deploy_key');
keygen(clientKeyPath);
const out = join(work, 'out');
const pbxs: Pbx[] = [];

test.after(async () => {
  await Promise.all(pbxs.map((p) => p.stop()));
  rmSync(work, { recursive: true, force: true });
});

async function pbx(name: string, includes = true): Promise<Pbx> {
  const p = await startPbx(name, { clientKeyPath, includes });
  pbxs.push(p);
  return p;
}

const options = (p: Pbx, extra: Partial<DeployOptions> = {}) => deployOptions(p, clientKeyPath, extra);

const build = (p: Pbx, spec: Partial<ReleaseSpec> = {}) => buildRelease(out, p, spec);

const current = (p: Pbx) => readlinkSync(join(p.host.dir, 'current'));
const deployed = (p: Pbx, path: string) => readFileSync(join(p.host.dir, 'current', path), 'utf8');
/** Every deploy reads the running dialplan version with the host's state (remote-state.ts): one read-only query. */
const STATE_QUERY = 'dialplan show version@mitschnitt-check';
const loadedDialplan = (p: Pbx) => readFileSync(join(p.state, 'dialplan.loaded'), 'utf8');

test('first deploy: release swapped in, cron + unit installed, AMI secret created on the host, everything reloaded and verified', async () => {
  const p = await pbx('first');
  const release = build(p);
  const r = await deployHost(p.host, release, options(p));
  assert.is(r.status, 'deployed', r.reason);
  assert.is(current(p), `releases/${release.id}`);
  assert.is(deployed(p, 'cron/mitschnitt'), release.read('cron/mitschnitt').toString());
  assert.is(statSync(join(p.host.dir, 'current/scripts/archive.sh')).mode & 0o777, 0o755);
  const cron = join(p.cronDir, 'mitschnitt');
  assert.ok(lstatSync(cron).isFile(), 'cron file is a regular file, not a symlink');
  assert.is(statSync(cron).mode & 0o777, 0o644);
  assert.is(readFileSync(join(p.systemdDir, 'mitschnitt.service'), 'utf8'), release.read('systemd/mitschnitt.service').toString());
  assert.equal(p.systemctlCalls(), ['daemon-reload', 'enable mitschnitt', 'restart mitschnitt']);
  assert.equal(p.asteriskCommands(), [STATE_QUERY, 'dialplan reload', 'manager reload', 'module reload features', 'dialplan show version@mitschnitt-check']);
  assert.match(loadedDialplan(p), `NoOp(mitschnitt ${versionOf(release.read('asterisk/extensions_mitschnitt.conf').toString())})`);

  const secret = readFileSync(join(p.secretsDir, 'ami'), 'utf8');
  assert.match(secret, /^[0-9a-f]{64}$/);
  assert.is(statSync(join(p.secretsDir, 'ami')).mode & 0o777, 0o600);
  assert.is(readFileSync(join(p.secretsDir, 'ami.manager.conf'), 'utf8'), `secret = ${secret}\n`);
  assert.match(readFileSync(join(p.state, 'manager.loaded'), 'utf8'), `secret = ${secret}`);
  assert.not.match(JSON.stringify(r), secret, 'the secret never leaves the host');
  assert.is(r.commit, 'a'.repeat(40));
  assert.is(r.filesUploaded, Object.keys(release.manifest.files).length + 1);
});

test('first deploy before the admin added the #include lines: installed, reported NOT ACTIVE; --reload after adding them verifies', async () => {
  const p = await pbx('no-include', false);
  const release = build(p);
  const r = await deployHost(p.host, release, options(p));
  assert.is(r.status, 'deployed', r.reason);
  assert.match(r.notes.join(' '), 'NOT ACTIVE: no file in');
  assert.is(current(p), `releases/${release.id}`, 'the files are there for the includes to point at');

  writeAsteriskConfig(p.asteriskDir, p.host.dir, true);
  p.clearLogs();
  const plain = await deployHost(p.host, release, options(p));
  assert.is(plain.status, 'unchanged', plain.reason);
  assert.equal(plain.reloaded, ['dialplan'], 'the stale running dialplan is noticed and reloaded even without --reload');
  const forced = await deployHost(p.host, release, options(p, { forceReload: true }));
  assert.is(forced.status, 'unchanged', forced.reason);
  assert.equal(forced.reloaded, ['dialplan', 'manager', 'features']);
  assert.is(forced.bytesUploaded, 0);
  assert.match(readFileSync(join(p.state, 'manager.loaded'), 'utf8'), 'secret = ');
  assert.match(loadedDialplan(p), `NoOp(mitschnitt ${versionOf(release.read('asterisk/extensions_mitschnitt.conf').toString())})`);
});

test('first deploy with the includes in place but a refused reload: failed, nothing older to restore, the next deploy retries', async () => {
  const p = await pbx('first-refused');
  p.flag('fail-dialplan', true);
  const release = build(p);
  const r = await deployHost(p.host, release, options(p));
  assert.is(r.status, 'failed');
  assert.match(r.reason!, 'first deploy: nothing to roll back to');
  assert.equal(p.systemctlCalls(), ['daemon-reload', 'enable mitschnitt'], 'the runtime is not started on a failed deploy');
  p.flag('fail-dialplan', false);
  const retry = await deployHost(p.host, release, options(p));
  assert.is(retry.status, 'unchanged', retry.reason);
  assert.equal(retry.reloaded, ['dialplan', 'manager', 'features'], 'everything the failed deploy owed');
  assert.equal(p.systemctlCalls().slice(2), ['daemon-reload', 'restart mitschnitt']);
});

test('unchanged re-deploy uploads 0 bytes, reloads nothing, keeps the secret', async () => {
  const p = await pbx('unchanged');
  const release = build(p);
  assert.is((await deployHost(p.host, release, options(p))).status, 'deployed');
  const secret = readFileSync(join(p.secretsDir, 'ami'), 'utf8');
  p.clearLogs();
  const again = await deployHost(p.host, readLocalRelease(out, p.host.name), options(p));
  assert.is(again.status, 'unchanged', again.reason);
  assert.is(again.bytesUploaded, 0);
  assert.is(again.filesUploaded, 0);
  assert.equal(again.reloaded, []);
  assert.equal(p.asteriskCommands(), [STATE_QUERY], 'only the read-only version check (part of reading the state)');
  assert.equal(p.systemctlCalls(), []);
  assert.is(readFileSync(join(p.secretsDir, 'ami'), 'utf8'), secret);
  assert.is(current(p), `releases/${release.id}`);
});

test('a changed file: only it (and the manifest) is uploaded, only its module is reloaded', async () => {
  const p = await pbx('changed');
  build(p);
  assert.is((await deployHost(p.host, readLocalRelease(out, p.host.name), options(p))).status, 'deployed');
  const before = readLocalRelease(out, p.host.name);
  p.clearLogs();
  const featuresOnly = build(p, { extra: { 'asterisk/features_mitschnitt.conf': '[featuremap]\nautomixmon => *9\n' }, commit: 'b'.repeat(40) });
  assert.is.not(featuresOnly.id, before.id);

  const r = await deployHost(p.host, featuresOnly, options(p));
  assert.is(r.status, 'deployed', r.reason);
  assert.is(r.filesUploaded, 2);
  assert.is(r.bytesUploaded, Buffer.byteLength('[featuremap]\nautomixmon => *9\n') + featuresOnly.manifestBytes.length);
  assert.is(r.filesCopied, Object.keys(featuresOnly.manifest.files).length - 1);
  assert.equal(r.reloaded, ['features']);
  assert.equal(p.asteriskCommands(), [STATE_QUERY, 'module reload features']);
  assert.equal(p.systemctlCalls(), [], 'runtime files unchanged: no restart');
  assert.is(deployed(p, 'asterisk/features_mitschnitt.conf'), '[featuremap]\nautomixmon => *9\n');
  assert.is(r.commit, 'b'.repeat(40));

  p.clearLogs();
  const newDialplan = build(p, { dialplanBody: 'exten => s,1,Return(auto)', retentionDays: 30 });
  const r2 = await deployHost(p.host, newDialplan, options(p));
  assert.is(r2.status, 'deployed', r2.reason);
  assert.equal(r2.reloaded, ['dialplan', 'features']);
  assert.equal(p.asteriskCommands(), [STATE_QUERY, 'dialplan reload', 'module reload features', 'dialplan show version@mitschnitt-check']);
  assert.equal(p.systemctlCalls(), ['restart mitschnitt'], 'policy.json changed: runtime restarted, unit unchanged: no daemon-reload');
  assert.match(loadedDialplan(p), 'Return(auto)');
  assert.is(readlinkSync(join(p.host.dir, 'previous')), `releases/${featuresOnly.id}`);
});

test('a removed file disappears from the new release; a removed cron file is removed from cron.d', async () => {
  const p = await pbx('removed');
  assert.is((await deployHost(p.host, build(p), options(p))).status, 'deployed');
  p.clearLogs();
  const r = await deployHost(p.host, build(p, { omit: ['scripts/archive.sh', 'cron/mitschnitt'] }), options(p));
  assert.is(r.status, 'deployed', r.reason);
  assert.not.ok(existsSync(join(p.host.dir, 'current/scripts/archive.sh')));
  assert.not.ok(existsSync(join(p.cronDir, 'mitschnitt')));
  assert.equal(r.reloaded, []);
  assert.equal(p.asteriskCommands(), [STATE_QUERY], 'nothing reloaded');
  assert.ok(existsSync(join(p.host.dir, 'previous/scripts/archive.sh')), 'the previous release keeps it');
});

test('files edited or deleted on the host by hand are noticed and replaced by a rebuilt copy of the release', async () => {
  const p = await pbx('drift');
  const release = build(p);
  assert.is((await deployHost(p.host, release, options(p))).status, 'deployed');
  writeFileSync(join(p.host.dir, 'current/asterisk/features_mitschnitt.conf'), '[featuremap]\nautomixmon => *0 ; hand edit\n');
  rmSync(join(p.host.dir, 'current/scripts/archive.sh'));
  p.clearLogs();
  const r = await deployHost(p.host, release, options(p));
  assert.is(r.status, 'deployed', r.reason);
  assert.is(r.filesUploaded, 3, 'the two drifted files and the manifest');
  assert.equal(r.reloaded, ['features']);
  assert.is(current(p), `releases/${release.id}-1`);
  assert.is(deployed(p, 'asterisk/features_mitschnitt.conf'), release.read('asterisk/features_mitschnitt.conf').toString());
  assert.is(deployed(p, 'scripts/archive.sh'), release.read('scripts/archive.sh').toString());
  const again = await deployHost(p.host, release, options(p));
  assert.is(again.status, 'unchanged', again.reason);
});

test('a refused dialplan reload is detected, the old set is swapped back and reloaded again', async () => {
  const p = await pbx('rollback');
  const good = build(p);
  assert.is((await deployHost(p.host, good, options(p))).status, 'deployed');
  const goodVersion = versionOf(good.read('asterisk/extensions_mitschnitt.conf').toString());
  p.clearLogs();
  p.flag('fail-dialplan', true);
  const bad = build(p, { dialplanBody: 'exten => s,1,Return(broken)' });
  const r = await deployHost(p.host, bad, options(p));
  assert.is(r.status, 'failed');
  assert.ok(r.rolledBack);
  assert.match(r.reason!, `kept dialplan version ${goodVersion}`);
  assert.match(r.reason!, `rolled back to release ${good.id}`);
  assert.is(current(p), `releases/${good.id}`);
  assert.is(r.release, good.id);
  assert.not.ok(existsSync(join(p.host.dir, 'releases', bad.id)), 'the failed release is removed');
  assert.equal(p.asteriskCommands(), [
    STATE_QUERY,
    'dialplan reload', 'dialplan show version@mitschnitt-check', // new set: refused
    'dialplan reload', 'dialplan show version@mitschnitt-check', // old set again
  ]);
  assert.match(loadedDialplan(p), `NoOp(mitschnitt ${goodVersion})`);

  p.flag('fail-dialplan', false);
  const fixed = await deployHost(p.host, bad, options(p));
  assert.is(fixed.status, 'deployed', fixed.reason);
  assert.match(loadedDialplan(p), 'Return(broken)');
});

test('a failed features reload rolls back, restoring the cron file and restarting the runtime with the old policy', async () => {
  const p = await pbx('features-fail');
  const good = build(p);
  assert.is((await deployHost(p.host, good, options(p))).status, 'deployed');
  p.clearLogs();
  p.flag('fail-features', true);
  const bad = build(p, { extra: { 'asterisk/features_mitschnitt.conf': '[featuremap]\nautomixmon => *7\n' }, cronSchedule: '5 5 * * *', retentionDays: 7 });
  const r = await deployHost(p.host, bad, options(p));
  assert.is(r.status, 'failed');
  assert.match(r.reason!, "'module reload features' failed: The module 'features' reported a reload failure");
  assert.is(current(p), `releases/${good.id}`);
  assert.is(readFileSync(join(p.cronDir, 'mitschnitt'), 'utf8'), good.read('cron/mitschnitt').toString(), 'cron file restored');
  assert.equal(p.systemctlCalls(), [], 'the reload failed before the restart, and the old runtime never stopped');
  p.flag('fail-features', false);
});

test('Asterisk not running: the deploy fails with the console\'s reason, rolls back, and owes the reloads', async () => {
  const p = await pbx('asterisk-down');
  const good = build(p);
  assert.is((await deployHost(p.host, good, options(p))).status, 'deployed');
  p.flag('down', true);
  const r = await deployHost(p.host, build(p, { dialplanBody: 'exten => s,1,Return(down)' }), options(p));
  assert.is(r.status, 'failed');
  assert.match(r.reason!, 'Unable to connect to remote asterisk');
  assert.match(r.reason!, 'reloading the old set failed too');
  assert.is(current(p), `releases/${good.id}`);
  assert.is(readFileSync(join(p.host.dir, 'pending'), 'utf8'), 'dialplan\n', 'the next deploy reloads again');
  p.flag('down', false);
  const next = await deployHost(p.host, good, options(p));
  assert.is(next.status, 'unchanged', next.reason);
  assert.equal(next.reloaded, ['dialplan']);
  assert.not.ok(existsSync(join(p.host.dir, 'pending')));
});

test('a connection cut in the middle of the upload leaves the old set intact; the next deploy succeeds', async () => {
  const p = await pbx('cut');
  const good = build(p);
  assert.is((await deployHost(p.host, good, options(p))).status, 'deployed');
  const next = build(p, { dialplanBody: 'exten => s,1,Return(next)', extra: { 'snom/big.xml': 'x'.repeat(200_000) } });
  let killed = false;
  const onProgress = (e: ProgressEvent) => {
    if (!killed && e.phase === 'upload' && e.detail?.startsWith('1/')) {
      killed = true;
      for (const pid of p.sshd.sessionPids()) process.kill(pid, 'SIGKILL');
    }
  };
  const r = await deployHost(p.host, next, options(p, { onProgress }));
  assert.ok(killed);
  assert.is(r.status, 'failed');
  assert.is(current(p), `releases/${good.id}`, 'current still points at the old release');
  for (const [path, entry] of Object.entries(good.manifest.files)) {
    assert.is(readFileSync(join(p.host.dir, 'current', path)).equals(good.read(path)), true, `${path} intact (${entry.sha256})`);
  }
  assert.ok(existsSync(join(p.host.dir, 'deploy.lock')), 'the cut deploy could not remove its lock');

  const retry = await deployHost(p.host, next, options(p));
  assert.is(retry.status, 'deployed', retry.reason);
  assert.match(retry.notes.join(' '), 'took over a stale deploy lock: its deploy is gone');
  assert.is(current(p), `releases/${next.id}`);
  assert.equal(readdirSync(join(p.host.dir, 'releases')).filter((n) => n.endsWith('.tmp')), [], 'no staging leftovers');
});

test('staging succeeds but recording the owed work and switching fails (same command): rolled back, the old set stays, nothing owed', async () => {
  const p = await pbx('swap-fails');
  const good = build(p);
  assert.is((await deployHost(p.host, good, options(p))).status, 'deployed');
  // A folder where the list of owed work is written first: the switch fails after the staging, the rollback can work.
  mkdirSync(join(p.host.dir, 'pending.new'));
  const next = build(p, { dialplanBody: 'exten => s,1,Return(never)' });
  const r = await deployHost(p.host, next, options(p));
  assert.is(r.status, 'failed');
  assert.match(r.reason!, 'switching the current release failed');
  assert.match(r.reason!, `rolled back to release ${good.id}`);
  assert.ok(r.rolledBack);
  assert.is(r.release, good.id);
  assert.is(current(p), `releases/${good.id}`);
  assert.not.ok(existsSync(join(p.host.dir, 'releases', next.id)), 'the staged release is removed');
  assert.not.ok(existsSync(join(p.host.dir, 'pending')));
});

test('a connection cut right after the swap: the new set is live, and the next deploy does the owed install, reloads and restart', async () => {
  const p = await pbx('cut-after-swap');
  assert.is((await deployHost(p.host, build(p), options(p))).status, 'deployed');
  const next = build(p, { dialplanBody: 'exten => s,1,Return(after-swap)', cronSchedule: '1 1 * * *', retentionDays: 5 });
  p.clearLogs();
  const onProgress = (e: ProgressEvent) => {
    if (e.phase === 'install') for (const pid of p.sshd.sessionPids()) process.kill(pid, 'SIGKILL');
  };
  const cut = await deployHost(p.host, next, options(p, { onProgress }));
  assert.is(cut.status, 'failed');
  assert.is(current(p), `releases/${next.id}`, 'the swap happened: one complete set, the new one');
  assert.equal(p.asteriskCommands().filter((c) => c !== STATE_QUERY), [], 'nothing reloaded yet (the state is read twice: by the deploy, and after the cut to report it)');
  assert.is(readFileSync(join(p.host.dir, 'pending'), 'utf8'), 'dialplan install restart\n');

  const repair = await deployHost(p.host, next, options(p));
  assert.is(repair.status, 'unchanged', repair.reason);
  assert.is(repair.bytesUploaded, 0);
  assert.equal(repair.reloaded, ['dialplan']);
  assert.match(loadedDialplan(p), 'Return(after-swap)');
  assert.is(readFileSync(join(p.cronDir, 'mitschnitt'), 'utf8'), next.read('cron/mitschnitt').toString());
  assert.equal(p.systemctlCalls(), ['daemon-reload', 'restart mitschnitt']);
  assert.not.ok(existsSync(join(p.host.dir, 'pending')), 'nothing owed any more');
});

test('two concurrent deploys to one host never interleave: the second waits, then finds nothing to do', async () => {
  const p = await pbx('concurrent');
  const release = build(p);
  const [a, b] = await Promise.all([
    deployHost(p.host, release, options(p, { lock: { waitSeconds: 60, leaseMinutes: 30, force: false } })),
    deployHost(p.host, release, options(p, { lock: { waitSeconds: 60, leaseMinutes: 30, force: false } })),
  ]);
  assert.equal([a.status, b.status].sort(), ['deployed', 'unchanged']);
  assert.is(Math.min(a.bytesUploaded, b.bytesUploaded), 0);
  assert.equal(p.asteriskCommands().filter((c) => c === 'dialplan reload'), ['dialplan reload']);
});

test('a deploy finding the host locked by a live deploy fails cleanly, naming the holder; --force-unlock takes over', async () => {
  const p = await pbx('locked');
  const release = build(p);
  const other = await connectSsh(sshTarget(p.host), { privateKey: readFileSync(clientKeyPath) });
  const lock = await acquireLock(other, p.host.dir, 'ci-runner-7 pid 4242', { waitSeconds: 0, leaseMinutes: 30, force: false });
  try {
    const r = await deployHost(p.host, release, options(p));
    assert.is(r.status, 'failed');
    assert.match(r.reason!, 'is being deployed by ci-runner-7 pid 4242');
    assert.not.ok(existsSync(join(p.host.dir, 'current')), 'nothing deployed');
    const forced = await deployHost(p.host, release, options(p, { lock: { waitSeconds: 0, leaseMinutes: 30, force: true } }));
    assert.is(forced.status, 'deployed', forced.reason);
    assert.match(forced.notes.join(' '), 'forced (--force-unlock); was held by ci-runner-7 pid 4242');
  } finally {
    await lock.release().catch(() => undefined);
    other.close();
  }
  assert.not.ok(existsSync(join(p.host.dir, 'deploy.lock')), 'no lock left behind');
});

test('a lock older than its lease is broken even while its holder lives (a hung deploy); the holder is stopped', async () => {
  const p = await pbx('lease');
  const other = await connectSsh(sshTarget(p.host), { privateKey: readFileSync(clientKeyPath) });
  try {
    await acquireLock(other, p.host.dir, 'hung-runner', { waitSeconds: 0, leaseMinutes: 30, force: false });
    // As if taken 31 minutes ago.
    writeFileSync(join(p.host.dir, 'deploy.lock/since'), `${Math.floor(Date.now() / 1000) - 31 * 60}\n`);
    const keeper = Number(readFileSync(join(p.host.dir, 'deploy.lock/keeper'), 'utf8').split(' ')[0]);
    const r = await deployHost(p.host, build(p), options(p));
    assert.is(r.status, 'deployed', r.reason);
    assert.match(r.notes.join(' '), 'lease of 30 min expired; was held by hung-runner');
    // Killed keepers of these sshd sessions stay zombies in a container without an init that reaps.
    const state = existsSync(`/proc/${keeper}/stat`) ? readFileSync(`/proc/${keeper}/stat`, 'utf8').split(' ')[2] : 'gone';
    assert.ok(['Z', 'X', 'gone'].includes(state!), `the hung deploy's keeper was stopped (state ${state})`);
  } finally {
    other.close();
  }
});

test('an unknown host key is refused before anything happens, naming both fingerprints', async () => {
  const p = await pbx('hostkey');
  const wrong = 'SHA256:' + 'A'.repeat(43);
  const r = await deployHost({ ...p.host, hostKey: wrong }, build(p), options(p));
  assert.is(r.status, 'failed');
  assert.match(r.reason!, p.sshd.hostKey);
  assert.match(r.reason!, wrong);
  assert.match(r.reason!, 'refusing to connect');
  assert.not.ok(existsSync(p.host.dir), 'nothing was created on the host');

  const strangerKey = join(work, 'stranger');
  keygen(strangerKey);
  const unauthorised = await deployHost(p.host, build(p), options(p, { auth: { privateKey: readFileSync(strangerKey) } }));
  assert.is(unauthorised.status, 'failed');
  assert.match(unauthorised.reason!, 'All configured authentication methods failed');

  const knownHosts = [{ marker: '' as const, patterns: `[127.0.0.1]:${p.host.port}`, keyBlob: Buffer.from(p.sshd.hostKeyPublic.split(' ')[1]!, 'base64') }];
  const viaKnownHosts = await deployHost({ ...p.host, hostKey: wrong }, build(p), options(p, { knownHosts }));
  assert.is(viaKnownHosts.status, 'deployed', viaKnownHosts.reason);
});

test('two hosts in parallel, one failing: the other is deployed, the failure is reported per host', async () => {
  const [p1, p2] = await Promise.all([pbx('par-a'), pbx('par-b')]);
  for (const p of [p1, p2]) assert.is((await deployHost(p.host, build(p), options(p))).status, 'deployed');
  p2.flag('fail-dialplan', true);
  for (const p of [p1, p2]) build(p, { dialplanBody: 'exten => s,1,Return(v2)' });
  mkdirSync(join(work, 'cron-shared'));
  const events: ProgressEvent[] = [];
  const results = await deployAll([p1.host, p2.host], (h) => readLocalRelease(out, h.name), { ...options(p1), cronDir: join(work, 'cron-shared'), onProgress: (e) => events.push(e) }, 4);
  // cronDir is shared by both hosts here; it only needs to exist
  assert.is(results[0]!.status, 'deployed', results[0]!.reason);
  assert.is(results[1]!.status, 'failed');
  assert.ok(results[1]!.rolledBack);
  assert.match(loadedDialplan(p1), 'Return(v2)');
  assert.not.match(loadedDialplan(p2), 'Return(v2)');
  assert.ok(events.some((e) => e.host === 'par-a' && e.phase === 'done'));
  assert.ok(events.some((e) => e.host === 'par-b' && e.phase === 'failed'));
});

test('going back to a release still on the host (git revert) reuses it after checking it: nothing uploaded', async () => {
  const p = await pbx('revert');
  const v1 = build(p);
  assert.is((await deployHost(p.host, v1, options(p))).status, 'deployed');
  assert.is((await deployHost(p.host, build(p, { dialplanBody: 'exten => s,1,Return(v2)' }), options(p))).status, 'deployed');
  p.clearLogs();
  const back = await deployHost(p.host, build(p), options(p));
  assert.is(back.status, 'deployed', back.reason);
  assert.is(back.release, v1.id);
  assert.is(back.bytesUploaded, 0);
  assert.equal(back.reloaded, ['dialplan']);
  assert.match(loadedDialplan(p), 'Return(none)');
});

test('old releases are pruned to the newest three (current and previous kept)', async () => {
  const p = await pbx('prune');
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const release = build(p, { dialplanBody: `exten => s,1,Return(v${i})` });
    assert.is((await deployHost(p.host, release, options(p))).status, 'deployed');
    ids.push(release.id);
  }
  assert.equal(readdirSync(join(p.host.dir, 'releases')).sort(), ids.slice(2).sort());
  assert.is(current(p), `releases/${ids[4]}`);
  assert.is(readlinkSync(join(p.host.dir, 'previous')), `releases/${ids[3]}`);
});

test.run();
