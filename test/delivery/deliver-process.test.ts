// `mitschnitt deliver` as a real process: overlapping cron runs, a run killed mid-batch, exit codes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { access, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireBatchLock } from '../../runtime/batch-lock.ts';
import { enqueueDelivery, queueDir } from '../../runtime/delivery-queue.ts';
import { makeWorkspace, testPolicy, writePolicy, writeRecording, type Recording } from './support.ts';

type Workspace = Awaited<ReturnType<typeof makeWorkspace>>;
let ws: Workspace;
const children: ChildProcess[] = [];
const strayGroups: number[] = [];

test.before.each(async () => {
  ws = await makeWorkspace();
});
test.after.each(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const pgid of strayGroups.splice(0)) killGroup(pgid);
  await rm(ws.root, { recursive: true, force: true });
});

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
}

const cli = (...args: string[]) => ['bin/mitschnitt.js', ...args];

function startDeliver(...extra: string[]): { child: ChildProcess; done: Promise<{ code: number | null; out: string }> } {
  const child = spawn(process.execPath, cli('deliver', '--config', ws.config, ...extra), { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const done = new Promise<{ code: number | null; out: string }>((resolve) => child.on('close', (code) => resolve({ code, out })));
  return { child, done };
}

async function waitFor(path: string): Promise<void> {
  // Polls for a file the script writes; no assertion on how long it takes.
  for (;;) {
    if (await access(path).then(() => true, () => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Queues `n` recordings for `scriptBody`, which appends its $1 to delivered.log. */
async function setup(n: number, scriptBody: string): Promise<{ recs: Recording[]; log: string }> {
  const log = join(ws.root, 'delivered.log');
  const path = join(ws.config, 'scripts', 'archive.sh');
  await writeFile(path, `#!/bin/bash\nLOG=${JSON.stringify(log)}\nROOT=${JSON.stringify(ws.root)}\n${scriptBody}\n`, { mode: 0o755 });
  await writePolicy(ws.config, testPolicy({ spool: ws.spool, scriptTimeoutSeconds: 600 }));
  const recs: Recording[] = [];
  for (let i = 0; i < n; i++) {
    const rec = await writeRecording(ws.spool, { start: new Date(Date.UTC(2026, 10, 20, 10, i)), uniqueid: `1763632800.${i}` });
    await enqueueDelivery(ws.spool, { id: rec.id, audio: rec.audio, journal: rec.journal, rule: 'support-manual', script: path }, new Date(Date.UTC(2026, 10, 20, 10, i)));
    recs.push(rec);
  }
  return { recs, log };
}

const deliveredLines = async (log: string) => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean);

test('overlapping runs: the second exits 0 at once, every recording is delivered exactly once', async () => {
  // The script waits for a go signal on the first item, so the second run surely starts while the first works.
  const { recs, log } = await setup(4, 'echo "$1" >> "$LOG"\n[ -e "$ROOT/started" ] || { touch "$ROOT/started"; while [ ! -e "$ROOT/go" ]; do sleep 0.05; done; }');
  const first = startDeliver();
  await waitFor(join(ws.root, 'started'));
  const second = startDeliver();
  const secondResult = await second.done;
  assert.is(secondResult.code, 0, secondResult.out);
  assert.match(secondResult.out, /another delivery run is in progress/);
  await writeFile(join(ws.root, 'go'), '');
  const firstResult = await first.done;
  assert.is(firstResult.code, 0, firstResult.out);
  assert.equal((await deliveredLines(log)).sort(), recs.map((r) => r.audio).sort());
  assert.is((await readdir(queueDir(ws.spool, 'delivered'))).length, 4);
});

test('crash mid-batch (SIGKILL): nothing lost, the next run delivers the rest, only the in-flight item twice', async () => {
  // On the second item the script records its process group and blocks until killed.
  const { recs, log } = await setup(
    4,
    'echo "$1" >> "$LOG"\nif [ -e "$ROOT/block" ] && [ "$(wc -l < "$LOG")" -eq 2 ]; then echo $$ > "$ROOT/blocked"; sleep 600; fi',
  );
  await writeFile(join(ws.root, 'block'), '');
  const run = startDeliver();
  await waitFor(join(ws.root, 'blocked'));
  run.child.kill('SIGKILL');
  await run.done;
  // The script runs in its own process group and outlives the killed run, as it would on a real PBX.
  const scriptGroup = Number((await readFile(join(ws.root, 'blocked'), 'utf8')).trim());
  strayGroups.push(scriptGroup);
  killGroup(scriptGroup);
  await rm(join(ws.root, 'block'));

  assert.is((await readdir(queueDir(ws.spool))).length, 3, 'the in-flight and later items are still queued');
  const lock = await readFile(join(ws.spool, '.mitschnitt', 'deliver.lock'), 'utf8');
  assert.match(lock, new RegExp(`"pid":${run.child.pid}`), 'the killed run left its lock behind');

  const next = startDeliver();
  const result = await next.done;
  assert.is(result.code, 0, result.out);
  const lines = await deliveredLines(log);
  const count = (rec: Recording) => lines.filter((l) => l === rec.audio).length;
  assert.equal(recs.map(count), [1, 2, 1, 1], 'only the in-flight item is delivered twice');
  assert.equal(await readdir(queueDir(ws.spool)), []);
  assert.is((await readdir(queueDir(ws.spool, 'delivered'))).length, 4);
});

test('a lock held by a live process is respected; one left by a dead process is broken', async () => {
  const path = join(ws.spool, '.mitschnitt', 'deliver.lock');
  const held = await acquireBatchLock(path);
  assert.ok(held.acquired);
  const blocked = await acquireBatchLock(path);
  assert.equal(blocked, { acquired: false, holder: process.pid });
  if (held.acquired) await held.release();

  const dead = spawnSync('true');
  await writeFile(path, JSON.stringify({ pid: dead.pid, start: '1' }));
  const taken = await acquireBatchLock(path);
  assert.ok(taken.acquired, 'a dead owner does not block');
  if (taken.acquired) await taken.release();

  // A live PID whose start time differs is a reused PID: the lock is stale.
  await writeFile(path, JSON.stringify({ pid: process.pid, start: '0' }));
  const reused = await acquireBatchLock(path);
  assert.ok(reused.acquired, 'a reused PID does not block');
  if (reused.acquired) await reused.release();
  await access(path).then(() => assert.unreachable('lock not released'), () => {});
});

test('CLI: exit 1 when a delivery failed, 0 when all went out, 2 on a bad flag, 1 on a missing policy', async () => {
  await setup(1, 'exit 7');
  const failed = await startDeliver().done;
  assert.is(failed.code, 1, failed.out);
  assert.match(failed.out, /"msg":"delivery batch finished"/);
  assert.match(failed.out, /"failed":1/);
  const path = join(ws.config, 'scripts', 'archive.sh');
  await writeFile(path, '#!/bin/bash\nexit 0\n');
  const ok = await startDeliver().done;
  assert.is(ok.code, 0, ok.out);
  assert.match(ok.out, /"sent":1/);

  const unknown = spawnSync(process.execPath, cli('deliver', '--config', ws.config, '--requeue-dead', 'no-such-id'), { encoding: 'utf8' });
  assert.is(unknown.status, 1);
  assert.match(unknown.stderr, /not in the dead-letter folder: no-such-id/);
  const stray = spawnSync(process.execPath, cli('deliver', '--config', ws.config, 'extra'), { encoding: 'utf8' });
  assert.is(stray.status, 2);

  // A spool whose state folder cannot be created: one clear line, exit 1, no stack trace.
  const broken = join(ws.root, 'broken-spool');
  await mkdir(broken);
  await writeFile(join(broken, '.mitschnitt'), 'not a folder');
  await writePolicy(ws.config, testPolicy({ spool: broken }));
  const stopped = spawnSync(process.execPath, cli('deliver', '--config', ws.config), { encoding: 'utf8' });
  assert.is(stopped.status, 1, stopped.stderr);
  assert.match(stopped.stderr, /delivery stopped: .*\.mitschnitt/);
  assert.not.match(stopped.stderr, /at .*\.ts:\d+/);

  const usage = spawnSync(process.execPath, cli('deliver', '--limit', 'lots'), { encoding: 'utf8' });
  assert.is(usage.status, 2);
  assert.match(usage.stderr, /--limit needs a positive whole number/);
  const missing = spawnSync(process.execPath, cli('deliver', '--config', join(ws.root, 'nope')), { encoding: 'utf8' });
  assert.is(missing.status, 1);
  assert.match(missing.stderr, /cannot read .*policy\.json/);
  assert.not.match(missing.stderr, /at .*\.ts:\d+/, 'no stack trace');
});

test.run();
