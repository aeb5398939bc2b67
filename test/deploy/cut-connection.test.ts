// Deploy faults seen with a ~2,000-user rule set on a real sshd when the SSH session is killed mid-deploy:
// (A) the remote copy loop outlived its session and raced the next deploy that had judged the lock stale;
// (B) a cut after the swap was reported as "rolled back" while the host ran the new release with work owed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { deployHost, type ProgressEvent } from '../../ci/deploy.ts';
import { keygen } from '../support/sshd.ts';
import { buildRelease, deployOptions, startPbx, type Pbx } from './pbx-fixture.ts';
import type { ReleaseSpec } from './release-fixture.ts';

const work = mkdtempSync(join(tmpdir(), 'mitschnitt-cut-test-'));
const clientKeyPath = join(work, 'deploy_key');
keygen(clientKeyPath);
const out = join(work, 'out');
const pbxs: Pbx[] = [];

// A `cp` that takes 20 ms per file it is given, so the copy of unchanged files is still running when the session dies.
const slowBin = join(work, 'slow-bin');
mkdirSync(slowBin);
writeFileSync(join(slowBin, 'cp'), '#!/bin/sh\nfor a in "$@"; do sleep 0.02; done\nexec /bin/cp "$@"\n');
chmodSync(join(slowBin, 'cp'), 0o755);

test.after(async () => {
  await Promise.all(pbxs.map((p) => p.stop()));
  rmSync(work, { recursive: true, force: true });
});

async function pbx(name: string, extraBin?: string): Promise<Pbx> {
  const p = await startPbx(name, { clientKeyPath, extraBin });
  pbxs.push(p);
  return p;
}

const build = (p: Pbx, spec: Partial<ReleaseSpec> = {}) => buildRelease(out, p, spec);
const current = (p: Pbx) => readlinkSync(join(p.host.dir, 'current'));
const cutConnection = (p: Pbx) => {
  for (const pid of p.sshd.sessionPids()) process.kill(pid, 'SIGKILL');
};

/** PIDs of processes on this machine whose environment carries the deploy marker. */
function processesWithMarker(marker: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').includes(`MITSCHNITT_DEPLOY=${marker}`)) pids.push(Number(name));
    } catch {
      // gone meanwhile, or a kernel thread
    }
  }
  return pids;
}

const phones: Record<string, string> = {};
for (let i = 0; i < 300; i++) phones[`snom/000413${i.toString(16).padStart(6, '0')}.xml`] = `<settings>${i}</settings>\n`;

test('(A) a cut during the copy of unchanged files: the orphaned copy loop is ended before the lock is taken over, and the next deploy succeeds', async () => {
  const p = await pbx('orphan', slowBin);
  const good = build(p, { extra: phones });
  assert.is((await deployHost(p.host, good, deployOptions(p, clientKeyPath))).status, 'deployed');
  const next = build(p, { extra: phones, dialplanBody: 'exten => s,1,Return(next)' });
  let cut = false;
  const onProgress = (e: ProgressEvent) => {
    if (!cut && e.phase === 'upload' && e.detail?.startsWith('copying 30')) {
      cut = true;
      setTimeout(() => cutConnection(p), 500);
    }
  };
  const r = await deployHost(p.host, next, deployOptions(p, clientKeyPath, { onProgress }));
  assert.ok(cut);
  assert.is(r.status, 'failed');
  assert.is(r.release, good.id, 'the host still runs the old release, and the report says so');
  assert.is(current(p), `releases/${good.id}`);

  // The premise of the fault: the copy loop is still running without its session, filling releases/<id>.tmp.
  const marker = readFileSync(join(p.host.dir, 'deploy.lock/marker'), 'utf8').trim();
  assert.match(marker, /^[0-9a-f]{16}$/);
  await sleep(300);
  assert.ok(processesWithMarker(marker).length > 0, 'a process of the cut deploy outlived its connection');
  assert.ok(existsSync(join(p.host.dir, `releases/${next.id}.tmp`)));

  const retry = await deployHost(p.host, next, deployOptions(p, clientKeyPath));
  assert.is(retry.status, 'deployed', retry.reason);
  assert.match(retry.notes.join(' '), /took over a stale deploy lock: its deploy is gone \(ended \d+ of its processes still running on the host\)/);
  assert.equal(processesWithMarker(marker), [], 'nothing of the cut deploy is left');
  assert.is(current(p), `releases/${next.id}`);
  assert.equal(readdirSync(join(p.host.dir, 'releases')).filter((n) => n.endsWith('.tmp')), []);
});

test('(A) a lock whose keeper is gone and whose deploy left no process is simply taken over', async () => {
  const p = await pbx('no-orphan');
  const good = build(p);
  assert.is((await deployHost(p.host, good, deployOptions(p, clientKeyPath))).status, 'deployed');
  const next = build(p, { dialplanBody: 'exten => s,1,Return(again)' });
  const onProgress = (e: ProgressEvent) => {
    if (e.phase === 'compare') cutConnection(p);
  };
  assert.is((await deployHost(p.host, next, deployOptions(p, clientKeyPath, { onProgress }))).status, 'failed');
  await sleep(200);
  const retry = await deployHost(p.host, next, deployOptions(p, clientKeyPath));
  assert.is(retry.status, 'deployed', retry.reason);
  assert.match(retry.notes.join(' '), 'took over a stale deploy lock: its deploy is gone; was held by');
});

for (const phase of ['install', 'reload'] as const) {
  test(`(B) a cut after the swap (during ${phase}): reported as failed on the NEW release with the work owed, not as rolled back`, async () => {
    const p = await pbx(`after-swap-${phase}`);
    const good = build(p);
    assert.is((await deployHost(p.host, good, deployOptions(p, clientKeyPath))).status, 'deployed');
    const next = build(p, { dialplanBody: `exten => s,1,Return(${phase})`, retentionDays: 7 });
    let cut = false;
    const onProgress = (e: ProgressEvent) => {
      if (!cut && e.phase === phase) {
        cut = true;
        cutConnection(p);
      }
    };
    const r = await deployHost(p.host, next, deployOptions(p, clientKeyPath, { onProgress }));
    assert.ok(cut);
    assert.is(r.status, 'failed');
    assert.is(r.rolledBack, false, 'nothing was rolled back');
    assert.is(current(p), `releases/${next.id}`, 'the host runs the new release');
    assert.is(r.release, next.id, 'and the report names it');
    assert.is(r.commit, next.manifest.commit);
    assert.match(r.reason!, `the connection was lost, so nothing was rolled back: the host runs the new release ${next.id} and still owes`);
    assert.match(readFileSync(join(p.host.dir, 'pending'), 'utf8'), 'dialplan');

    const repair = await deployHost(p.host, next, deployOptions(p, clientKeyPath));
    assert.is(repair.status, 'unchanged', repair.reason);
    assert.ok(repair.reloaded.includes('dialplan'));
    assert.not.ok(existsSync(join(p.host.dir, 'pending')));
  });
}

test('random cuts (seeded): whatever the moment, the report names the release the host runs, and the next deploy completes', async () => {
  const p = await pbx('random-cuts', slowBin);
  const fewPhones = Object.fromEntries(Object.entries(phones).slice(0, 60)); // a copy of ~1.2 s to cut into
  let base = build(p, { extra: fewPhones });
  assert.is((await deployHost(p.host, base, deployOptions(p, clientKeyPath))).status, 'deployed');
  let seed = 13;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let round = 1; round <= 6; round++) {
    const next = build(p, { extra: fewPhones, dialplanBody: `exten => s,1,Return(round-${round})`, retentionDays: 10 + round });
    const at = 1 + Math.floor(random() * 8); // cut at the n-th progress event, after a random delay
    const delay = Math.floor(random() * 300);
    let events = 0;
    const onProgress = () => {
      if (++events === at) setTimeout(() => cutConnection(p), delay);
    };
    const r = await deployHost(p.host, next, deployOptions(p, clientKeyPath, { onProgress }));
    await sleep(400);
    const live = readlinkSync(join(p.host.dir, 'current')).slice('releases/'.length);
    if (r.status === 'failed' && r.release !== null) {
      assert.is(r.release, live, `round ${round} (cut at event ${at} + ${delay} ms): reported ${r.release}, the host runs ${live}: ${r.reason}`);
      assert.is(r.rolledBack, live === base.id && r.reason!.includes('rolled back to'), `round ${round}: rolledBack only when it happened`);
    }
    const retry = await deployHost(p.host, next, deployOptions(p, clientKeyPath));
    assert.ok(retry.status === 'deployed' || retry.status === 'unchanged', `round ${round}: ${retry.reason}`);
    assert.is(readlinkSync(join(p.host.dir, 'current')), `releases/${next.id}`);
    assert.not.ok(existsSync(join(p.host.dir, 'pending')), `round ${round}: nothing owed after the retry`);
    assert.equal(readdirSync(join(p.host.dir, 'releases')).filter((n) => n.endsWith('.tmp')), []);
    base = next;
  }
});

test('leftovers of a cut deploy (releases/<id>.tmp, staging/) are removed by the next deploy even when nothing changed', async () => {
  const p = await pbx('leftovers');
  const good = build(p);
  assert.is((await deployHost(p.host, good, deployOptions(p, clientKeyPath))).status, 'deployed');
  mkdirSync(join(p.host.dir, 'releases/0123456789abcdef.tmp/snom'), { recursive: true });
  mkdirSync(join(p.host.dir, 'staging/0123456789abcdef'), { recursive: true });
  const r = await deployHost(p.host, good, deployOptions(p, clientKeyPath));
  assert.is(r.status, 'unchanged', r.reason);
  assert.is(r.bytesUploaded, 0);
  assert.match(r.notes.join(' '), 'removed what a cut-off deploy left: releases/0123456789abcdef.tmp, staging');
  assert.not.ok(existsSync(join(p.host.dir, 'releases/0123456789abcdef.tmp')));
  assert.not.ok(existsSync(join(p.host.dir, 'staging')));
  assert.is(current(p), `releases/${good.id}`);
});

test.run();
