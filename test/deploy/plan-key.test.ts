// Least privilege for plan: merge-request pipelines run plan, so its key is pinned on the PBX to the read-only
// plan-state script (authorized_keys command="…",restrict, as the package installs it at /usr/lib/mitschnitt/plan-state)
// instead of being the root-equivalent deploy key. Real sshd; the stand-in asterisk answers the version query.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VERSION } from '../../bin/version.ts';
import { deployHost, sshTarget } from '../../ci/deploy.ts';
import { planHost } from '../../ci/plan-command.ts';
import { PLAN_STATE_SCRIPT } from '../../ci/plan-state.ts';
import { connectSsh } from '../../ci/ssh-connection.ts';
import { keygen } from '../support/sshd.ts';
import { buildRelease, deployOptions, startPbx, type Pbx } from './pbx-fixture.ts';

const work = mkdtempSync(join(tmpdir(), 'mitschnitt-plan-key-test-'));
const deployKey = join(work, 'deploy_key');
const planKey = join(work, 'plan_key');
keygen(deployKey);
keygen(planKey);
const out = join(work, 'out');
let p: Pbx;

test.before(async () => {
  p = await startPbx('plan-key', { clientKeyPath: deployKey });
  // As the package installs it, and as README tells admins to pin the plan key.
  const script = join(p.root, 'plan-state');
  writeFileSync(script, PLAN_STATE_SCRIPT, { mode: 0o755 });
  appendFileSync(join(p.sshd.dir, 'authorized_keys'), `command="${script} ${p.host.dir} ${p.asteriskDir}",restrict ${readFileSync(`${planKey}.pub`, 'utf8')}`);
});

test.after(async () => {
  await p.stop();
  rmSync(work, { recursive: true, force: true });
});

const planAuth = () => ({ privateKey: readFileSync(planKey) });
const deployAuth = () => ({ privateKey: readFileSync(deployKey) });

test('with the plan key, plan reports exactly what it reports with the deploy key: changes, diffs, hand edits, version', async () => {
  const first = buildRelease(out, p);
  assert.is((await deployHost(p.host, first, deployOptions(p, deployKey))).status, 'deployed');
  const same = await planHost(p.host, out, planAuth());
  assert.is(same.status, 'unchanged', same.error);
  assert.is(same.hostVersion, VERSION);

  buildRelease(out, p, { dialplanBody: 'exten => s,1,Return(changed)' });
  writeFileSync(join(p.host.dir, 'current/cron/mitschnitt'), 'edited by hand\n');
  const viaPlanKey = await planHost(p.host, out, planAuth());
  const viaDeployKey = await planHost(p.host, out, deployAuth());
  assert.is(viaPlanKey.status, 'changes', viaPlanKey.error);
  assert.equal(viaPlanKey, viaDeployKey);
  assert.match(viaPlanKey.diffs!['asterisk/extensions_mitschnitt.conf']!, '+exten => s,1,Return(changed)');
  assert.match(viaPlanKey.diffs!['cron/mitschnitt']!, '-edited by hand');
  assert.ok(viaPlanKey.plan!.changes.find((c) => c.path === 'cron/mitschnitt')!.drift, 'the hand edit is recognised as drift');
});

test('the plan key runs nothing but plan-state: no other command, no deploy, nothing written', async () => {
  const session = await connectSsh(sshTarget(p.host), planAuth());
  try {
    const marker = join(p.root, 'pwned');
    const r = await session.exec(`touch ${marker}; id -u`);
    assert.match(r.stdout, /^mitschnitt-plan-state 1\n/);
    assert.not.ok(existsSync(marker));
  } finally {
    session.close();
  }
  const before = readFileSync(join(p.host.dir, 'current/manifest.json'));
  const r = await deployHost(p.host, buildRelease(out, p, { dialplanBody: 'exten => s,1,Return(never)' }), { ...deployOptions(p, deployKey), auth: planAuth() });
  assert.is(r.status, 'failed');
  assert.ok(readFileSync(join(p.host.dir, 'current/manifest.json')).equals(before), 'nothing deployed');
  assert.not.ok(existsSync(join(p.host.dir, 'deploy.lock')));
});

test('hostile stdin to plan-state: paths leaving the release are dropped, no file outside it is sent', async () => {
  writeFileSync(join(p.root, 'secret.txt'), 'top secret\n');
  const session = await connectSsh(sshTarget(p.host), planAuth());
  try {
    const zero = '0'.repeat(64);
    const stdin = [`${zero}  ../../secret.txt`, `${zero}  /etc/passwd`, `${zero}  ../secrets/ami`, `${zero}  policy.json`].join('\n') + '\n';
    const r = await session.exec('ignored', stdin);
    assert.match(r.stdout, /^file=policy\.json$/m, 'a release file that differs is sent');
    assert.not.match(r.stdout, /secret\.txt|passwd|secrets\/ami|top secret/);
    assert.not.match(Buffer.from(r.stdout.split('\n').filter((l) => /^[A-Za-z0-9+/=]{8,}$/.test(l)).join(''), 'base64').toString('latin1'), 'top secret');
  } finally {
    session.close();
  }
});

test.run();
