// The pure parts of plan/deploy: plan computation, host-key trust, quoting, Asterisk output checks, manifests.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkHostKey, fingerprint, parseKnownHosts } from '../../ci/host-key.ts';
import { computePlan, formatPlan, unifiedDiff } from '../../ci/plan.ts';
import { ProgressView, summaryTable } from '../../ci/progress.ts';
import { parseManifest, type Manifest } from '../../ci/release-files.ts';
import { cliFailure, dialplanVersion, loadedVersion } from '../../ci/reload-verify.ts';
import { quote, sh } from '../../ci/shell.ts';
import { asRoot, sudoersLine } from '../../ci/sudo.ts';
import { keyFingerprint, keygen } from '../support/sshd.ts';
import { dialplan } from './release-fixture.ts';

const work = mkdtempSync(join(tmpdir(), 'mitschnitt-deploy-units-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

const entry = (sha: string, mode = '0644') => ({ sha256: sha.repeat(64).slice(0, 64), size: 1, mode });
const manifest = (files: Manifest['files'], commit: string | null = 'c'.repeat(40)): Manifest => ({ host: 'pbx', commit, dirty: false, files });

test('plan: added, changed (content or mode) and removed files, and exactly the reloads and restarts they need', () => {
  const before = manifest({
    'asterisk/extensions_mitschnitt.conf': entry('a'),
    'asterisk/features_mitschnitt.conf': entry('b'),
    'policy.json': entry('c'),
    'scripts/x.sh': entry('d', '0644'),
    'snom/old.xml': entry('e'),
    'cron/mitschnitt': entry('f'),
    'systemd/mitschnitt.service': entry('9'),
  });
  const after = manifest({
    'asterisk/extensions_mitschnitt.conf': entry('1'),
    'asterisk/features_mitschnitt.conf': entry('b'),
    'policy.json': entry('c'),
    'scripts/x.sh': entry('d', '0755'),
    'snom/new.xml': entry('2'),
    'systemd/mitschnitt.service': entry('9'),
  });
  const plan = computePlan(after, before);
  assert.equal(plan.changes.map((c) => `${c.kind} ${c.path}`), [
    'change asterisk/extensions_mitschnitt.conf',
    'remove cron/mitschnitt',
    'change scripts/x.sh',
    'add snom/new.xml',
    'remove snom/old.xml',
  ]);
  assert.equal(plan.actions, { reload: ['dialplan'], installCron: false, removeCron: true, installUnit: false, restartRuntime: false });
  assert.not.ok(plan.firstDeploy);

  const same = computePlan(after, manifest(after.files, 'd'.repeat(40)));
  assert.equal(same.changes, [], 'a new commit with identical files is no change');

  const first = computePlan(before, null);
  assert.ok(first.firstDeploy);
  assert.equal(first.actions, { reload: ['dialplan', 'features'], installCron: true, removeCron: false, installUnit: true, restartRuntime: true });
  const manager = computePlan(manifest({ ...before.files, 'asterisk/manager_mitschnitt.conf': entry('7') }), before);
  assert.equal(manager.actions.reload, ['manager']);
  const policy = computePlan(manifest({ ...before.files, 'policy.json': entry('8') }), before);
  assert.equal(policy.actions, { reload: [], installCron: false, removeCron: false, installUnit: false, restartRuntime: true });
});

test('plan output: Terraform-style signs, mode changes, counts, unified diffs indented under the file', () => {
  const unit = { 'systemd/mitschnitt.service': entry('9') };
  const before = manifest({ ...unit, 'policy.json': entry('a'), 'scripts/x.sh': entry('d'), 'snom/old.xml': entry('e') });
  const after = manifest({ ...unit, 'policy.json': entry('b'), 'scripts/x.sh': entry('d', '0755'), 'snom/new.xml': entry('2') }, 'f'.repeat(40));
  const plan = computePlan(after, before);
  const diff = unifiedDiff('policy.json', Buffer.from('{\n  "retentionDays": 90\n}\n'), Buffer.from('{\n  "retentionDays": 30\n}\n'));
  const text = formatPlan(plan, new Map([['policy.json', diff]]));
  assert.match(text, 'host pbx: deployed cccccccccccc → build ffffffffffff');
  assert.match(text, '  ~ policy.json\n      --- a/policy.json\n      +++ b/policy.json\n');
  assert.match(text, '      -  "retentionDays": 90\n      +  "retentionDays": 30\n');
  assert.match(text, '  ~ scripts/x.sh (mode 0644 → 0755)');
  assert.match(text, '  + snom/new.xml');
  assert.match(text, '  - snom/old.xml');
  assert.match(text, '  1 to add, 2 to change, 1 to remove');
  assert.match(text, '  restart: mitschnitt service');
  assert.is(formatPlan(computePlan(after, after)), `host pbx: deployed ffffffffffff → build ffffffffffff\n  no changes\n`);
  const drift = computePlan(after, after, ['policy.json']);
  assert.equal(drift.changes.map((c) => [c.path, c.kind, c.drift]), [['policy.json', 'change', true]]);
  assert.ok(drift.actions.restartRuntime);
  assert.match(formatPlan(drift), '  ~ policy.json (changed on the host by hand: will be replaced)');
  assert.is(unifiedDiff('a.bin', Buffer.from([0, 1, 2]), Buffer.from([3])), 'Binary file a.bin changed\n');
  assert.match(unifiedDiff('new.txt', null, Buffer.from('x\n')), '--- /dev/null\n+++ b/new.txt');
});

test('host key: the fingerprint matches ssh-keygen; only the rules\' key or a known_hosts entry is trusted', () => {
  const keyPath = join(work, 'hk');
  keygen(keyPath);
  const pub = readFileSync(`${keyPath}.pub`, 'utf8').split(' ');
  const blob = Buffer.from(pub[1]!, 'base64');
  assert.is(fingerprint(blob), keyFingerprint(`${keyPath}.pub`));
  const other = 'SHA256:' + 'Q'.repeat(43);
  assert.equal(checkHostKey({ address: 'pbx', port: 22, fingerprint: fingerprint(blob) }, blob), { ok: true });
  assert.equal(checkHostKey({ address: 'pbx', port: 22, fingerprint: fingerprint(blob) + '=' }, blob), { ok: true }, 'padding as the schema allows');
  const refused = checkHostKey({ address: 'pbx', port: 22, fingerprint: other }, blob);
  assert.not.ok(refused.ok);
  if (!refused.ok) {
    assert.match(refused.reason, fingerprint(blob));
    assert.match(refused.reason, other);
  }

  // known_hosts: plain [host]:port, ssh-keygen -H hashed names, wildcards, negation, @revoked
  const line = `${pub[0]} ${pub[1]}`;
  assert.ok(checkHostKey({ address: 'pbx', port: 2222, fingerprint: other, knownHosts: parseKnownHosts(`[pbx]:2222 ${line}\n`) }, blob).ok);
  assert.not.ok(checkHostKey({ address: 'pbx', port: 22, fingerprint: other, knownHosts: parseKnownHosts(`[pbx]:2222 ${line}\n`) }, blob).ok, 'port matters');
  assert.ok(checkHostKey({ address: 'pbx-1.example', port: 22, fingerprint: other, knownHosts: parseKnownHosts(`*.example ${line}\n`) }, blob).ok);
  assert.not.ok(checkHostKey({ address: 'pbx-1.example', port: 22, fingerprint: other, knownHosts: parseKnownHosts(`*.example,!pbx-1.example ${line}\n`) }, blob).ok);
  const khFile = join(work, 'known_hosts');
  writeFileSync(khFile, `pbx.example ${line}\n`);
  execFileSync('ssh-keygen', ['-H', '-f', khFile], { stdio: 'ignore' });
  const hashed = readFileSync(khFile, 'utf8');
  assert.match(hashed, /^\|1\|/);
  assert.ok(checkHostKey({ address: 'pbx.example', port: 22, fingerprint: other, knownHosts: parseKnownHosts(hashed) }, blob).ok);
  assert.not.ok(checkHostKey({ address: 'pbx2.example', port: 22, fingerprint: other, knownHosts: parseKnownHosts(hashed) }, blob).ok);
  const revoked = checkHostKey({ address: 'pbx', port: 22, fingerprint: fingerprint(blob), knownHosts: parseKnownHosts(`@revoked * ${line}\n`) }, blob);
  assert.not.ok(revoked.ok, 'a revoked key is refused even if hosts.json names it');
});

test('quoting: hostile strings reach the remote shell as one literal argument each', () => {
  const payloads = ["a'b", '$(touch /tmp/pwned)', '`id`', 'x; rm -rf /', 'new\nline', '"dq" \\ back', '', '*', '-n'];
  for (const p of payloads) {
    const r = spawnSync('sh', ['-c', `printf '%s' ${quote(p)}`], { encoding: 'utf8' });
    assert.is(r.stdout, p);
  }
  assert.is(sh`cd ${"/x'y"} && ls ${'$HOME'}`, `cd '/x'\\''y' && ls '$HOME'`);
  assert.throws(() => quote('a\0b'), /NUL/);
});

test('sudo wrapping: a command line reaches the root shell unchanged, hostile arguments and all; root runs it directly', () => {
  const payloads = ["a'b", '$(touch /tmp/pwned)', '`id`', 'x; rm -rf /', 'new\nline', '"dq" \\ back', '*'];
  const line = `printf '%s|' ${payloads.map(quote).join(' ')}; id -u`;
  assert.is(asRoot(line, 'root'), line);
  assert.match(asRoot(line, 'deploy'), /^sudo -n \/bin\/sh -c '/);
  // The test runs as root, whom sudo lets run anything without a password: the same path a deploy user's rule opens.
  const r = spawnSync('sh', ['-c', asRoot(line, 'deploy')], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, `${payloads.join('|')}|0\n`);
  assert.is(sudoersLine('deploy'), 'deploy ALL=(root) NOPASSWD: /bin/sh');
});

test('Asterisk outputs: the real Asterisk 22 captures are judged right (success, refused, failed reload)', () => {
  const dir = fileURLToPath(new URL('./fixtures/asterisk-cli', import.meta.url));
  const stdout = (name: string) => {
    const file = readdirSync(dir).find((f) => f.startsWith(name))!;
    return readFileSync(join(dir, file), 'utf8').split('\n\n').slice(1).join('\n\n');
  };
  assert.is(cliFailure(stdout('cli-01')), null, 'Dialplan reloaded.');
  assert.is(cliFailure(stdout('cli-02')), null, 'a refused reload looks like success: hence the version check');
  assert.is(cliFailure(stdout('cli-03')), "There is no existence of 'refused-ctx' context");
  assert.is(cliFailure(stdout('cli-04')), null);
  assert.is(stdout('cli-06'), '', 'manager reload prints nothing');
  assert.is(cliFailure(stdout('cli-06')), null);
  assert.is(cliFailure(stdout('cli-08')), null);
  assert.is(cliFailure(stdout('cli-09')), "The module 'features' reported a reload failure");
  assert.is(cliFailure("No such command 'dialplan reloadd' (type 'core show help dialplan' for other possible commands)\n"), "No such command 'dialplan reloadd' (type 'core show help dialplan' for other possible commands)");
  assert.ok(cliFailure('Unable to connect to remote asterisk (does /var/run/asterisk/asterisk.ctl exist?)\n'));
  assert.is(cliFailure('There is no existence of version@mitschnitt-check extension\nCommand \'dialplan show version@mitschnitt-check\' failed.\n'), 'There is no existence of version@mitschnitt-check extension');
});

test('dialplan version: read from the generated file and from `dialplan show` output', () => {
  const conf = dialplan('exten => s,1,Return(none)');
  const version = dialplanVersion(conf)!;
  assert.match(version, /^[0-9a-f]{16}$/);
  const show = `[ Context 'mitschnitt-check' created by 'pbx_config' ]\n  'version' =>          1. NoOp(mitschnitt ${version})     [extensions_mitschnitt.conf:2]\n\n-= 1 extension (1 priority) in 1 context. =-\n`;
  assert.is(loadedVersion(show), version);
  assert.is(loadedVersion("There is no existence of 'mitschnitt-check' context\n"), null);
  assert.is(dialplanVersion('[other]\nexten => version,1,NoOp(mitschnitt 0123)\n'), null);
});

test('manifests: unsafe paths, bad hashes and modes are refused before anything reaches a host', () => {
  const ok = { host: 'pbx', commit: null, dirty: false, files: { 'asterisk/a.conf': entry('a') } };
  assert.equal(parseManifest(Buffer.from(JSON.stringify(ok)), 'm').files, ok.files);
  for (const bad of ['../etc/passwd', '/etc/passwd', 'a/../../b', '.hidden', 'a/.b', 'a b', 'a\nb', "a'b", 'manifest.json']) {
    assert.throws(() => parseManifest(Buffer.from(JSON.stringify({ ...ok, files: { [bad]: entry('a') } })), 'm'), /unsafe or reserved/, bad);
  }
  assert.throws(() => parseManifest(Buffer.from(JSON.stringify({ ...ok, files: { a: { ...entry('a'), mode: '4755 ' } } })), 'm'), /bad entry/);
  assert.throws(() => parseManifest(Buffer.from(JSON.stringify({ ...ok, commit: '$(id)' })), 'm'), /commit/);
  assert.throws(() => parseManifest(Buffer.from('{'), 'm'), /not valid JSON/);
});

test('progress: plain lines when not a terminal, one redrawn line per host on a terminal; summary table', () => {
  const sink = (isTTY: boolean) => {
    const chunks: string[] = [];
    return { chunks, stream: Object.assign(new Writable({ write(c, _e, done) { chunks.push(String(c)); done(); } }), { isTTY, columns: 80 }) };
  };
  const plain = sink(false);
  const view = new ProgressView(plain.stream, ['a', 'bb']);
  view.update({ host: 'a', phase: 'upload', detail: '1/2 policy.json' });
  view.update({ host: 'bb', phase: 'done' });
  assert.equal(plain.chunks, ['[a] … upload: 1/2 policy.json\n', '[bb] ✓ done\n']);
  const tty = sink(true);
  const live = new ProgressView(tty.stream, ['a', 'bb']);
  live.update({ host: 'a', phase: 'lock' });
  live.update({ host: 'bb', phase: 'failed', detail: 'boom' });
  assert.is(tty.chunks[0], '\x1b[2Ka   … lock\n\x1b[2Kbb  waiting\n');
  assert.is(tty.chunks[1], '\x1b[2A\x1b[2Ka   … lock\n\x1b[2Kbb  ✗ failed: boom\n', 'cursor up two lines, both lines rewritten');

  const base = { release: 'abcdef0123456789', commit: 'c'.repeat(40), bytesUploaded: 2048, filesUploaded: 2, filesCopied: 5, wireBytes: 9000, restarted: false, rolledBack: false, hostVersion: '0.1.0', notes: [] };
  const table = summaryTable([
    { ...base, host: 'pbx-berlin', status: 'deployed', reloaded: ['dialplan'], restarted: true },
    { ...base, host: 'pbx-hamburg', status: 'failed', reloaded: [], rolledBack: true, reason: 'it broke' },
  ]);
  assert.match(table, /^HOST\s+STATUS\s+RELEASE\s+COMMIT\s+UPLOADED\s+RELOADED$/m);
  assert.match(table, /^pbx-berlin\s+deployed\s+abcdef0123456789\s+cccccccccccc\s+2\.0 kB \(2 files\)\s+dialplan, runtime restarted$/m);
  assert.match(table, /^pbx-hamburg\s+failed \(rolled back\)/m);
  assert.match(table, /^pbx-hamburg: it broke$/m);
});

test.run();
