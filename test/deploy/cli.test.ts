// `mitschnitt plan` and `mitschnitt deploy` end to end: a real git repository of rules (pushed to a bare remote),
// the real build, two "PBXs" behind real sshd instances.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { simpleGit } from 'simple-git';
import { BUNDLED_RULES } from '../../bin/cli-support.ts';
import { keygen } from '../support/sshd.ts';
import { startPbx, type Pbx } from './pbx-fixture.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'mitschnitt-cli-deploy-'));
const key = join(work, 'deploy_key');
keygen(key);
const rules = join(work, 'repo', 'rules');
const out = join(work, 'out');
const cronDir = join(work, 'cron.d');
const systemdDir = join(work, 'systemd');
const secretsDir = join(work, 'secrets');
mkdirSync(cronDir);
mkdirSync(systemdDir);
let berlin: Pbx;
let hamburg: Pbx;
const git = () => simpleGit(join(work, 'repo'));

function run(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin/mitschnitt.js'), ...args], { cwd: work, env: { ...process.env, SSH_AUTH_SOCK: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const ssh = ['--identity', key, '--rules', rules, '--out', out];
const deployFlags = [...ssh, '--cron-dir', cronDir, '--systemd-dir', systemdDir];

function writeHosts(hostKeyOverride?: string): void {
  const hosts = [berlin, hamburg].map((p, i) => ({
    name: i === 0 ? 'pbx-berlin' : 'pbx-hamburg',
    address: '127.0.0.1',
    port: p.host.port,
    user: 'root',
    hostKey: hostKeyOverride ?? p.host.hostKey,
    dir: p.host.dir,
    asteriskDir: p.asteriskDir,
  }));
  writeFileSync(join(rules, 'hosts.json'), JSON.stringify({ $schema: '../schema/hosts.schema.json', hosts }, null, 2) + '\n');
}

async function commitAndPush(message: string): Promise<void> {
  await git().add('.');
  await git().commit(message);
  await git().push('origin', 'main');
}

test.before(async () => {
  [berlin, hamburg] = await Promise.all([startPbx('berlin', { clientKeyPath: key }), startPbx('hamburg', { clientKeyPath: key })]);
  cpSync(BUNDLED_RULES, rules, { recursive: true });
  cpSync(join(repoRoot, 'schema'), join(work, 'repo', 'schema'), { recursive: true });
  const settings = JSON.parse(readFileSync(join(rules, 'settings.json'), 'utf8'));
  writeFileSync(join(rules, 'settings.json'), JSON.stringify({ ...settings, secretsDir }, null, 2) + '\n');
  writeHosts();
  await simpleGit(work).raw(['init', '-q', '--bare', '-b', 'main', join(work, 'remote.git')]);
  await git().init(['-b', 'main']);
  await git().addConfig('user.name', 'Test Admin').addConfig('user.email', 'admin@example.com');
  await git().addRemote('origin', join(work, 'remote.git'));
  await git().add('.');
  await git().commit('rules');
  await git().push(['-u', 'origin', 'main']);
});

test.after(async () => {
  await Promise.all([berlin?.stop(), hamburg?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

test('plan against fresh hosts: exit 3, every file to add, with diffs and the reloads', async () => {
  const r = await run('plan', ...ssh);
  assert.is(r.code, 3, r.stderr);
  assert.match(r.stdout, 'host pbx-berlin: nothing deployed yet');
  assert.match(r.stdout, '+ asterisk/extensions_mitschnitt.conf');
  assert.match(r.stdout, /\+exten => version,1,NoOp\(mitschnitt [0-9a-f]{16}\)/);
  assert.match(r.stdout, 'reload: dialplan, manager, features');
  assert.match(r.stdout, 'restart: mitschnitt service');
  assert.not.ok(existsSync(join(berlin.host.dir, 'current')), 'plan writes nothing');
});

test('deploy refuses a dirty working tree and an unpushed commit, and touches no host', async () => {
  writeFileSync(join(rules, 'scripts', 'draft.sh'), '#!/bin/sh\n');
  const dirty = await run('deploy', ...deployFlags);
  assert.is(dirty.code, 1);
  assert.match(dirty.stderr, 'refusing to deploy: the working tree has 1 uncommitted change (rules/scripts/draft.sh)');
  rmSync(join(rules, 'scripts', 'draft.sh'));

  writeFileSync(join(work, 'repo', 'NOTES.md'), 'local only\n');
  await git().add('.');
  await git().commit('not pushed');
  const unpushed = await run('deploy', ...deployFlags);
  assert.is(unpushed.code, 1);
  assert.match(unpushed.stderr, 'is not on any remote branch: push it first');
  assert.not.ok(existsSync(join(berlin.host.dir, 'current')));
  await git().push('origin', 'main');
});

test('deploy --all: both hosts deployed with progress lines and a summary naming the commit', async () => {
  const head = (await git().revparse(['HEAD'])).trim();
  const r = await run('deploy', '--all', ...deployFlags);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stderr, '[pbx-berlin] ✓ done');
  assert.match(r.stderr, '[pbx-hamburg] ✓ done');
  assert.match(r.stdout, /^pbx-berlin\s+deployed\s+[0-9a-f]{16}\s+/m);
  assert.match(r.stdout, head.slice(0, 12));
  const manifest = JSON.parse(readFileSync(join(berlin.host.dir, 'current/manifest.json'), 'utf8'));
  assert.is(manifest.commit, head, 'the deployed commit is recorded on the host');
  assert.match(readFileSync(join(berlin.state, 'dialplan.loaded'), 'utf8'), '[mitschnitt-check]');

  const plan = await run('plan', ...ssh);
  assert.is(plan.code, 0, plan.stdout + plan.stderr);
  assert.match(plan.stdout, 'host pbx-hamburg: deployed');
  assert.match(plan.stdout, 'no changes');
});

test('a rule change: plan shows the diff (exit 3), deploy --host deploys only that host, unchanged re-deploy uploads 0 bytes', async () => {
  const settings = JSON.parse(readFileSync(join(rules, 'settings.json'), 'utf8'));
  writeFileSync(join(rules, 'settings.json'), JSON.stringify({ ...settings, retentionDays: 30 }, null, 2) + '\n');
  await commitAndPush('retention 30 days');
  const plan = await run('plan', '--host', 'pbx-berlin', '--json', ...ssh);
  assert.is(plan.code, 3, plan.stderr);
  const report = JSON.parse(plan.stdout).hosts[0];
  assert.is(report.status, 'changes');
  assert.ok(report.plan.changes.some((c: { path: string; kind: string }) => c.path === 'policy.json' && c.kind === 'change'));
  assert.match(report.diffs['policy.json'], /^-.*"retentionDays": 90/m);
  assert.match(report.diffs['policy.json'], /^\+.*"retentionDays": 30/m);
  assert.ok(report.plan.actions.restartRuntime);

  const hamburgBefore = readlinkSync(join(hamburg.host.dir, 'current'));
  berlin.clearLogs();
  const r = await run('deploy', '--host', 'pbx-berlin', '--json', ...deployFlags);
  assert.is(r.code, 0, r.stderr);
  const [result] = JSON.parse(r.stdout).hosts;
  assert.is(result.host, 'pbx-berlin');
  assert.is(result.status, 'deployed');
  assert.ok(result.restarted);
  assert.is(readlinkSync(join(hamburg.host.dir, 'current')), hamburgBefore, 'the other host is untouched');
  assert.match(readFileSync(join(berlin.host.dir, 'current/policy.json'), 'utf8'), '"retentionDays": 30');

  const again = await run('deploy', '--host', 'pbx-berlin', '--json', ...deployFlags);
  assert.is(again.code, 0, again.stderr);
  const [unchanged] = JSON.parse(again.stdout).hosts;
  assert.is(unchanged.status, 'unchanged');
  assert.is(unchanged.bytesUploaded, 0);
});

test('a host whose key does not match: plan and deploy exit 1 and say why', async () => {
  writeHosts('SHA256:' + 'B'.repeat(43));
  await commitAndPush('wrong host key');
  const plan = await run('plan', ...ssh);
  assert.is(plan.code, 1);
  assert.match(plan.stdout, 'ERROR host key of [127.0.0.1]:');
  assert.match(plan.stdout, 'refusing to connect');
  const deploy = await run('deploy', '--host', 'pbx-hamburg', ...deployFlags);
  assert.is(deploy.code, 1);
  assert.match(deploy.stdout, /pbx-hamburg\s+failed/);
  writeHosts();
  await commitAndPush('host keys back');
});

test('usage errors exit 2', async () => {
  assert.is((await run('deploy', '--parallel', 'zero', ...deployFlags)).code, 2);
  assert.is((await run('deploy', '--force-unlock', '--all', ...deployFlags)).code, 2);
  assert.is((await run('plan', '--host', 'pbx-berlin', '--all', ...ssh)).code, 2);
  const unknown = await run('plan', '--host', 'pbx-paris', ...ssh);
  assert.is(unknown.code, 1);
  assert.match(unknown.stderr, 'unknown host pbx-paris');
  const bootstrap = await run('deploy', '--bootstrap', ...deployFlags);
  assert.is(bootstrap.code, 2);
  assert.match(bootstrap.stderr, '--bootstrap needs --package');
  const uninstall = await run('deploy', '--uninstall', ...ssh);
  assert.is(uninstall.code, 2, 'uninstall is never the default for all hosts');
  assert.match(uninstall.stderr, '--uninstall needs --host NAME (or --all)');
  const badPackage = await run('deploy', '--package', '/nonexistent/evil.deb', ...deployFlags);
  assert.is(badPackage.code, 1);
  assert.match(badPackage.stderr, 'not a mitschnitt package file');
  assert.not.match(badPackage.stderr, /\n\s+at /, 'a message, not a stack trace');
});

test.run();
