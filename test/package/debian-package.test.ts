// The Debian package as a PBX admin meets it: built by `npm run package`, lintian-clean, installed with apt-get on a
// Debian 12 machine without Node.js of its own in the way (it runs its private runtime), upgraded, removed, purged.
// Runs on this machine itself (root) and cleans up after itself (test/package/machine.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtPackage, cleanMachine, installed, lockMachine, machineState, mustSh, sh, type MachineState } from './machine.ts';
import type { PackageResult } from '../../ci/debian/build-package.ts';
import { PLAN_STATE_SCRIPT } from '../../ci/plan-state.ts';

const SPOOL = '/var/spool/asterisk/mitschnitt';
const work = mkdtempSync(join(tmpdir(), 'mitschnitt-package-test-'));
let unlock: () => Promise<void>;
let before: MachineState;
let pkg: PackageResult;

test.before(async () => {
  unlock = await lockMachine();
  // The premise is a host without mitschnitt: an install left by an earlier run or by hand is purged first.
  if (installed()) mustSh('apt-get purge -y -q mitschnitt 2>&1');
  before = machineState();
});

test.after(async () => {
  try {
    cleanMachine(before);
  } finally {
    rmSync(work, { recursive: true, force: true });
    await unlock();
  }
});

test('npm run package builds mitschnitt_<version>_<arch>.deb whose dependencies a Debian 12 base system has', () => {
  pkg = builtPackage();
  const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
  assert.is(pkg.version, version.replace('-', '~'));
  assert.is(pkg.arch, mustSh('dpkg --print-architecture').trim());
  assert.match(pkg.file, new RegExp(`mitschnitt_${pkg.version.replace(/[.+~]/g, '\\$&')}_${pkg.arch}\\.deb$`));
  const control = mustSh(`dpkg-deb --field ${pkg.file}`);
  assert.match(control, /^Depends: .*libc6 \(>= [0-9.]+\).*libstdc\+\+6.*adduser, acl$/m);
  assert.not.match(control, /nodejs/, 'no Node.js from elsewhere');
  const files = mustSh(`dpkg-deb --contents ${pkg.file}`);
  for (const path of ['./usr/bin/mitschnitt', './usr/lib/mitschnitt/node', './usr/lib/mitschnitt/app/bin/main.js', './lib/systemd/system/mitschnitt.service', './usr/share/doc/mitschnitt/copyright', './usr/share/man/man1/mitschnitt.1.gz']) {
    assert.ok(files.includes(` ${path}\n`) || files.includes(` ${path} `), `${path} is in the package`);
  }
  assert.not.match(files, /\/app\/(bin|generator|runtime|ci)\/\S*\.ts\n/, 'compiled: no TypeScript sources');
  assert.not.match(files, /node_modules\/(tsx|esbuild|typescript|uvu)\//, 'no build or test tools');
  assert.not.match(files, / \.\/var\/spool/, 'the spool is made by postinst, so dpkg never owns (or removes) the recordings');
  // The plan key's forced command (README: two keys) is the very script plan sends.
  assert.is(mustSh(`dpkg-deb --fsys-tarfile ${pkg.file} | tar -xO ./usr/lib/mitschnitt/plan-state`), PLAN_STATE_SCRIPT);
});

test('lintian: no errors and no warnings (the overrides in ci/debian/lintian-overrides say why)', () => {
  const r = sh(`lintian --fail-on error,warning --tag-display-limit 0 ${pkg.file} 2>&1`);
  const findings = r.out.split('\n').filter((l) => /^[EW]: /.test(l));
  assert.equal(findings, []);
  assert.is(r.code, 0, r.out);
});

test('apt-get install: the program on the PATH, the user in group asterisk, the spool with its default ACL, secrets folder, unit not started', () => {
  assert.not.ok(existsSync('/usr/bin/mitschnitt'));
  const out = mustSh(`apt-get install -y -q --no-install-recommends ${pkg.file} 2>&1`);
  assert.match(out, 'Setting up mitschnitt');
  assert.is(installed(), pkg.version);
  assert.is(mustSh('mitschnitt --version').trim(), pkg.version.replace('~', '-'));
  // The whole program loads from the package: the bundled rules validate and explain decides.
  assert.match(mustSh('cd / && mitschnitt validate'), 'rules: valid');
  assert.match(mustSh('cd / && mitschnitt explain --from 201 --to 030123456'), 'Recorded automatically');
  assert.match(mustSh('readlink -f "$(command -v mitschnitt)"'), '/usr/bin/mitschnitt');
  assert.match(mustSh('head -c 200 /usr/bin/mitschnitt'), '/usr/lib/mitschnitt/node');

  assert.match(mustSh('id -nG mitschnitt'), /\basterisk\b/);
  assert.match(mustSh('getent passwd mitschnitt'), /:\/usr\/sbin\/nologin$/m);
  const spool = statSync(SPOOL);
  assert.is(spool.mode & 0o7777, 0o2770);
  assert.is(mustSh(`stat -c %G ${SPOOL}`).trim(), 'asterisk');
  assert.match(mustSh(`getfacl -p ${SPOOL}`), /default:group::rwx/);
  assert.is(statSync('/etc/mitschnitt/secrets').mode & 0o777, 0o711);
  const unit = readFileSync('/lib/systemd/system/mitschnitt.service', 'utf8');
  assert.match(unit, 'ConditionPathExists=/etc/mitschnitt/current/policy.json');
  assert.not.ok(existsSync('/etc/systemd/system/multi-user.target.wants/mitschnitt.service'), 'not enabled before a deploy');
});

test('a date folder created by another user with umask 022 stays group-writable for the runtime (default ACL)', () => {
  const day = join(SPOOL, '2026/12/01');
  mustSh(`umask 022 && mkdir -p ${day}`);
  // The runtime user (group asterisk) can write a journal next to the audio MixMonitor wrote there.
  mustSh(`setpriv --reuid=mitschnitt --regid=mitschnitt --init-groups sh -c 'echo {} > ${day}/1.json'`);
  assert.ok(existsSync(join(day, '1.json')));
});

test('upgrade: a newer version installs over it; user, spool, recordings and the deployed configuration stay', () => {
  // A recording, a deployed release and a secret as deploy leaves them.
  writeFileSync(join(SPOOL, '2026/12/01/1.wav'), 'RIFF');
  mkdirSync('/etc/mitschnitt/releases/0123456789abcdef', { recursive: true });
  writeFileSync('/etc/mitschnitt/releases/0123456789abcdef/policy.json', '{}');
  mustSh('ln -sfn releases/0123456789abcdef /etc/mitschnitt/current');
  writeFileSync('/etc/mitschnitt/secrets/ami', 'x'.repeat(64));
  mkdirSync('/etc/cron.d', { recursive: true });
  writeFileSync('/etc/cron.d/mitschnitt', '0 20 * * * mitschnitt mitschnitt deliver --config /etc/mitschnitt/current\n');

  const newer = `${pkg.version}+test1`;
  const raw = join(work, 'raw');
  mustSh(`dpkg-deb -R ${pkg.file} ${raw} && sed -i 's/^Version: .*/Version: ${newer}/' ${raw}/DEBIAN/control`);
  const next = join(work, `mitschnitt_${newer}_${pkg.arch}.deb`);
  mustSh(`dpkg-deb --root-owner-group -Zgzip -b ${raw} ${next}`);
  const out = mustSh(`apt-get install -y -q --no-install-recommends ${next} 2>&1`);
  assert.match(out, `Unpacking mitschnitt (${newer}) over (${pkg.version})`);
  assert.is(installed(), newer);
  assert.ok(existsSync(join(SPOOL, '2026/12/01/1.wav')));
  assert.ok(existsSync('/etc/mitschnitt/current/policy.json'));
  assert.is(readFileSync('/etc/mitschnitt/secrets/ami', 'utf8'), 'x'.repeat(64));
  assert.match(mustSh(`getfacl -p ${SPOOL}`), /default:group::rwx/);
});

test('remove keeps the configuration; purge removes releases, secrets and the cron file but never the recordings', () => {
  mustSh('apt-get remove -y -q mitschnitt 2>&1');
  assert.not.ok(existsSync('/usr/bin/mitschnitt'));
  assert.ok(existsSync('/etc/mitschnitt/current/policy.json'), 'remove keeps the configuration');
  assert.ok(existsSync('/etc/cron.d/mitschnitt'));

  const out = mustSh('apt-get purge -y -q mitschnitt 2>&1');
  assert.match(out, `recordings and journals in ${SPOOL} were kept`);
  assert.not.ok(existsSync('/etc/mitschnitt/current'));
  assert.not.ok(existsSync('/etc/mitschnitt/secrets'));
  assert.not.ok(existsSync('/etc/cron.d/mitschnitt'));
  assert.not.ok(existsSync('/usr/lib/mitschnitt'));
  assert.ok(existsSync(join(SPOOL, '2026/12/01/1.wav')), 'the recording is still there');
  assert.ok(existsSync(join(SPOOL, '2026/12/01/1.json')), 'and its journal');
  assert.is(installed(), null);
});

test.run();
