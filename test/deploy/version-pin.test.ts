// Version pinning: the host must run the mitschnitt version that built the rules (package.json), so a policy format
// change never meets an older runtime. Real sshd; the stand-in `mitschnitt` on the host answers --version
// (fixtures/bin/mitschnitt). Installing a real package over SSH is tested in test/package/bootstrap.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VERSION } from '../../bin/version.ts';
import { deployHost } from '../../ci/deploy.ts';
import { planHost, formatReport } from '../../ci/plan-command.ts';
import { readLocalPackage, versionMismatch } from '../../ci/host-package.ts';
import { keygen } from '../support/sshd.ts';
import { buildRelease, deployOptions, startPbx, type Pbx } from './pbx-fixture.ts';

const work = mkdtempSync(join(tmpdir(), 'mitschnitt-version-pin-test-'));
const key = join(work, 'deploy_key');
keygen(key);
const out = join(work, 'out');
let p: Pbx;

test.before(async () => {
  p = await startPbx('pinned', { clientKeyPath: key });
});

test.after(async () => {
  await p.stop();
  rmSync(work, { recursive: true, force: true });
});

test('a host running another mitschnitt version is refused before anything changes, with the fix; plan shows it', async () => {
  const first = buildRelease(out, p);
  assert.is((await deployHost(p.host, first, deployOptions(p, key))).status, 'deployed');
  writeFileSync(join(p.state, 'mitschnitt-version'), '0.0.1\n');
  const next = buildRelease(out, p, { dialplanBody: 'exten => s,1,Return(new-format)' });
  p.clearLogs();
  const r = await deployHost(p.host, next, deployOptions(p, key));
  assert.is(r.status, 'failed');
  assert.is(r.hostVersion, '0.0.1');
  assert.is(r.reason, versionMismatch('pinned', '0.0.1'));
  assert.match(r.reason!, `pinned runs mitschnitt 0.0.1, but these rules are built with mitschnitt ${VERSION}`);
  assert.match(r.reason!, '--package mitschnitt_');
  assert.is(readlinkSync(join(p.host.dir, 'current')), `releases/${first.id}`, 'nothing deployed');
  assert.equal(p.asteriskCommands().filter((c) => !c.startsWith('dialplan show')), [], 'nothing reloaded');
  assert.not.ok(existsSync(join(p.host.dir, 'deploy.lock')));

  const plan = await planHost(p.host, out, { privateKey: readFileSync(key) });
  assert.is(plan.hostVersion, '0.0.1');
  assert.match(formatReport(plan), `mitschnitt: pinned runs mitschnitt 0.0.1`);
});

test('a host without mitschnitt on the PATH is refused the same way', async () => {
  writeFileSync(join(p.state, 'no-mitschnitt'), '');
  try {
    const r = await deployHost(p.host, buildRelease(out, p), deployOptions(p, key));
    assert.is(r.status, 'failed');
    assert.match(r.reason!, 'pinned has no mitschnitt on the PATH');
  } finally {
    rmSync(join(p.state, 'no-mitschnitt'));
  }
});

test('a package of another version than the build is refused locally: a host must run the version that built its rules', async () => {
  writeFileSync(join(p.state, 'mitschnitt-version'), '0.0.1\n');
  const deb = join(work, 'mitschnitt_0.0.2_amd64.deb');
  writeFileSync(deb, 'not really a package');
  const r = await deployHost(p.host, buildRelease(out, p), { ...deployOptions(p, key), package: readLocalPackage(deb) });
  assert.is(r.status, 'failed');
  assert.match(r.reason!, `is mitschnitt 0.0.2, but these rules are built with mitschnitt ${VERSION}`);
  assert.throws(() => readLocalPackage(join(work, 'evil; rm -rf.deb')), /not a mitschnitt package file/);
  rmSync(join(p.state, 'mitschnitt-version'));
});

test.run();
