// plan/deploy over a real sshd into the config folder of a running real Asterisk: the files arrive, the reload
// is verified, calls decide the new way; a deploy Asterisk refuses to load is rolled back and calls still decide
// the old way. The host's `asterisk` is this instance (a wrapper with -C on the sessions' PATH); everything
// else on the host is what deploy itself creates.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleGit } from 'simple-git';
import { BUNDLED_RULES } from '../../bin/cli-support.ts';
import { cli, initRulesRepo } from '../e2e/harness.ts';
import { STANDIN_BIN } from '../deploy/pbx-fixture.ts';
import { keygen, startSshd, type Sshd } from '../support/sshd.ts';
import { startAsterisk, type AsteriskInstance, type TestAmi } from './asterisk-instance.ts';

const HOST = 'pbx-berlin';
const work = mkdtempSync(join(tmpdir(), 'mitschnitt-engine-deploy-'));
const repo = join(work, 'repo');
const rules = join(repo, 'rules');
const out = join(repo, 'out');
const key = join(work, 'deploy_key');
const bin = join(work, 'bin');
const state = join(work, 'state');
const hostDir = join(work, 'etc/mitschnitt');
const cronDir = join(work, 'etc/cron.d');
const systemdDir = join(work, 'etc/systemd/system');
let ast: AsteriskInstance;
let ami: TestAmi;
let sshd: Sshd;

// The admin's extensions.conf: a context that makes one call through the routine and reports its decision.
const ADMIN = `[mt-call]
exten => s,1,Gosub(mitschnitt-check,s,1(\${A},\${B}))
 same => n,UserEvent(MtDecision,Case: \${CASE},Decision: \${GOSUB_RETVAL},Rule: \${MITSCHNITT_RULE})
 same => n,Hangup()
`;

const readJson = <T>(f: string) => JSON.parse(readFileSync(f, 'utf8')) as T;
const writeJson = (f: string, v: unknown) => writeFileSync(f, `${JSON.stringify(v, null, 2)}\n`);

let caseNo = 0;
/** One call A → B through the routine the running Asterisk has loaded now. */
async function decision(a: string, b: string): Promise<{ decision: string; rule: string }> {
  const id = String(++caseNo);
  const since = ami.events.length;
  const done = ami.waitFor((m) => m.get('UserEvent') === 'MtDecision' && m.get('Case') === id, 10_000, `call ${a} → ${b}`, since);
  const r = await ami.action('Originate', { Channel: 'Local/s@mt-call/n', Application: 'Wait', Data: '1', Async: 'true', Variable: `A=${a},B=${b},CASE=${id}` });
  assert.ok(r.ok, r.message.get('Message'));
  const e = await done;
  return { decision: e.get('Decision') ?? '', rule: e.get('Rule') ?? '' };
}

async function explained(a: string, b: string): Promise<{ decision: string; rule: string }> {
  const r = await cli(['explain', '--from', a, '--to', b, '--host', HOST, '--rules', rules, '--json']);
  const d = JSON.parse(r.stdout) as { decision: string; rule: string | null };
  return { decision: d.decision, rule: d.rule ?? '' };
}

async function commit(message: string): Promise<void> {
  const git = simpleGit(repo);
  await git.add('.');
  await git.commit(message);
  await git.push();
}

function setRuleActive(id: string, active: boolean): void {
  const doc = readJson<{ rules: { id: string; active?: boolean }[] }>(join(rules, 'rules.json'));
  doc.rules.find((x) => x.id === id)!.active = active;
  writeJson(join(rules, 'rules.json'), doc);
}

const deploy = () => cli(['deploy', '--identity', key, '--rules', rules, '--out', out, '--cron-dir', cronDir, '--systemd-dir', systemdDir], { cwd: repo });

test.before(async () => {
  for (const d of [bin, state, cronDir, systemdDir]) mkdirSync(d, { recursive: true });
  ast = await startAsterisk({
    // #tryinclude: before the first deploy the file does not exist yet (README's #include goes in after it).
    extensions: `${ADMIN}\n#tryinclude "${hostDir}/current/asterisk/extensions_mitschnitt.conf"\n`,
  });
  ami = await ast.ami();
  await ami.action('Filter', { Operation: 'Add', Filter: 'Event: UserEvent' });
  writeFileSync(join(bin, 'asterisk'), `#!/bin/sh\nexec ${ast.prefix}/sbin/asterisk -C ${join(ast.etc, 'asterisk.conf')} "$@"\n`);
  chmodSync(join(bin, 'asterisk'), 0o755);
  keygen(key);
  sshd = await startSshd({
    clientKeyPath: key,
    // The real asterisk first; the stand-in systemctl and mitschnitt (--version) of the deploy tests after it.
    env: { PATH: `${bin}:${STANDIN_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, FAKE_ASTERISK_DIR: ast.etc, FAKE_ASTERISK_STATE: state, HOME: work },
  });

  cpSync(BUNDLED_RULES, rules, { recursive: true });
  cpSync(join(BUNDLED_RULES, '../schema'), join(repo, 'schema'), { recursive: true });
  writeJson(join(rules, 'hosts.json'), { hosts: [{ name: HOST, address: '127.0.0.1', port: sshd.port, user: 'root', hostKey: sshd.hostKey, dir: hostDir, asteriskDir: ast.etc }] });
  const settings = readJson<Record<string, unknown>>(join(rules, 'settings.json'));
  writeJson(join(rules, 'settings.json'), { ...settings, spool: join(work, 'spool'), secretsDir: join(hostDir, 'secrets') });
  const users = readJson<{ users: { host?: string }[] }>(join(rules, 'users.json'));
  for (const u of users.users) delete u.host;
  writeJson(join(rules, 'users.json'), users);
  writeFileSync(join(repo, '.gitignore'), 'out/\n');
  await initRulesRepo(repo, 'rules');
});

test.after(async () => {
  await sshd?.stop();
  await ast?.stop();
  rmSync(work, { recursive: true, force: true });
});

const PAIRS: [string, string][] = [['201', '0301234567'], ['0301234567', '202'], ['301', '0301234567'], ['201', '202'], ['401', '0301234567']];

test('deploy into the running Asterisk: the reload is verified and calls decide as explain says', async () => {
  const r = await deploy();
  assert.is(r.code, 0, r.stdout + r.stderr);
  const file = readFileSync(join(hostDir, 'current/asterisk/extensions_mitschnitt.conf'), 'utf8');
  const version = /NoOp\(mitschnitt ([0-9a-f]{16})\)/.exec(file)![1]!;
  assert.match(await ast.cli('dialplan show version@mitschnitt-check'), version);
  for (const [a, b] of PAIRS) assert.equal(await decision(a, b), await explained(a, b), `${a} → ${b}`);
  assert.equal(await decision('201', '0301234567'), { decision: 'auto', rule: 'sales-external' });
});

test('a rule change deployed: calls decide the new way', async () => {
  setRuleActive('sales-external', false);
  await commit('sales-external paused');
  const r = await deploy();
  assert.is(r.code, 0, r.stdout + r.stderr);
  for (const [a, b] of PAIRS) assert.equal(await decision(a, b), await explained(a, b), `${a} → ${b}`);
  assert.is((await decision('201', '0301234567')).decision, 'none');
});

test('a deploy Asterisk refuses to load (the admin\'s extensions.conf now names a missing file) is rolled back; calls decide the old way', async () => {
  const before = readFileSync(join(hostDir, 'current/asterisk/extensions_mitschnitt.conf'), 'utf8');
  writeFileSync(join(ast.etc, 'extensions.conf'), `${readFileSync(join(ast.etc, 'extensions.conf'), 'utf8')}#include "admin-typo.conf"\n`);
  setRuleActive('sales-external', true);
  await commit('sales-external back on');
  const r = await deploy();
  assert.is(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /roll|refus|not loaded|did not load/i);
  assert.is(readFileSync(join(hostDir, 'current/asterisk/extensions_mitschnitt.conf'), 'utf8'), before, 'the old release is current again');
  assert.is((await decision('201', '0301234567')).decision, 'none', 'Asterisk still runs the old dialplan');
});

test.run();
