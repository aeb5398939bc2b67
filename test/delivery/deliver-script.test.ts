import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { access, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runDeliveryBatch } from '../../runtime/deliver-batch.ts';
import { runDeliveryScript } from '../../runtime/deliver-script.ts';
import { enqueueDelivery, listQueue, queueDir } from '../../runtime/delivery-queue.ts';
import { makeWorkspace, memoryLogger, testPolicy, writeRecording } from './support.ts';

type Workspace = Awaited<ReturnType<typeof makeWorkspace>>;
let ws: Workspace;
test.before.each(async () => {
  ws = await makeWorkspace();
});
test.after.each(async () => {
  await rm(ws.root, { recursive: true, force: true });
});

async function script(name: string, body: string): Promise<string> {
  const path = join(ws.config, 'scripts', name);
  await writeFile(path, `#!/bin/bash\n${body}\n`, { mode: 0o755 });
  return path;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('script: gets the audio and journal paths as exactly $1 and $2, even with spaces, quotes and $(…)', async () => {
  const spool = join(ws.root, `it's a "spool" $(touch PWNED) ;x`);
  await mkdir(spool);
  const out = join(ws.root, 'args.txt');
  const path = await script('archive.sh', `printf '%s\\n' "$#" "$1" "$2" > ${JSON.stringify(out)}\necho "archived $1"`);
  const rec = await writeRecording(spool, { start: new Date('2026-11-20T10:15:00Z') });
  await enqueueDelivery(spool, { id: rec.id, audio: rec.audio, journal: rec.journal, rule: 'support-manual', script: path });
  const { lines, log } = memoryLogger();

  const summary = await runDeliveryBatch({ policy: testPolicy({ spool }), log });

  assert.is(summary.sent, 1);
  assert.equal((await readFile(out, 'utf8')).split('\n'), ['2', rec.audio, rec.journal, '']);
  await access(join(ws.root, 'PWNED')).then(
    () => assert.unreachable('a path was run through a shell'),
    () => {},
  );
  assert.ok(lines.some((l) => l.msg === 'delivery script output' && l.stream === 'stdout' && l.line === `archived ${rec.audio}`));
  assert.equal(await readdir(queueDir(spool, 'delivered')), [`${rec.id}.json`]);
});

test('script: a non-zero exit is a failure with its code, stderr logged, retried next batch', async () => {
  const flag = join(ws.root, 'works-now');
  const path = await script('flaky.sh', `[ -e ${JSON.stringify(flag)} ] && exit 0\necho "DMS not reachable" >&2\nexit 3`);
  const rec = await writeRecording(ws.spool, { start: new Date('2026-11-20T10:15:00Z') });
  await enqueueDelivery(ws.spool, { id: rec.id, audio: rec.audio, journal: rec.journal, rule: null, script: path });
  const policy = testPolicy({ spool: ws.spool });
  const { lines, log } = memoryLogger();

  const first = await runDeliveryBatch({ policy, log });
  assert.is(first.failed, 1);
  assert.is(first.pending, 1);
  const [item] = await listQueue(ws.spool);
  assert.ok(item!.ok);
  assert.is(item.item.destinations[0]!.attempts, 1);
  assert.is(item.item.destinations[0]!.lastError, 'exit code 3');
  assert.ok(lines.some((l) => l.stream === 'stderr' && l.line === 'DMS not reachable'));

  await writeFile(flag, '');
  const second = await runDeliveryBatch({ policy, log });
  assert.is(second.sent, 1);
  assert.is(second.pending, 0);
});

test('a queue item whose journal is not written yet waits for the next batch without spending an attempt', async () => {
  const path = await script('archive.sh', 'exit 0');
  const rec = await writeRecording(ws.spool, { start: new Date('2026-11-20T10:15:00Z') });
  const journalBytes = await readFile(rec.journal);
  await rm(rec.journal);
  await enqueueDelivery(ws.spool, { id: rec.id, audio: rec.audio, journal: rec.journal, rule: null, script: path });
  const policy = testPolicy({ spool: ws.spool });

  const early = await runDeliveryBatch({ policy, log: memoryLogger().log });
  assert.is(early.sent, 0);
  assert.is(early.failed, 0);
  assert.is(early.deferred, 1);
  const [item] = await listQueue(ws.spool);
  assert.ok(item!.ok);
  assert.is(item.item.destinations[0]!.attempts, 0);

  await writeFile(rec.journal, journalBytes);
  const later = await runDeliveryBatch({ policy, log: memoryLogger().log });
  assert.is(later.sent, 1);
  assert.is(later.pending, 0);
});

test('script: a hanging script is stopped at the timeout, with everything it started', async () => {
  const pids = join(ws.root, 'pids');
  const path = await script('hang.sh', `sleep 600 &\necho "$! $$" > ${JSON.stringify(pids)}\nwait`);
  const { log } = memoryLogger();
  const outcome = await runDeliveryScript(
    { script: path, audioPath: '/a.wav', journalPath: '/a.json', timeoutSeconds: 1, id: 'x' },
    log,
  );
  assert.equal(outcome, { ok: false, error: 'timed out after 1 s (process group killed)' });
  const [background, shell] = (await readFile(pids, 'utf8')).trim().split(' ').map(Number);
  // The kill is asynchronous: give the kernel a moment to reap, without asserting on time.
  for (let i = 0; i < 50 && (alive(background!) || alive(shell!)); i++) await new Promise((r) => setTimeout(r, 100));
  assert.not.ok(alive(background!), 'the background child is gone');
  assert.not.ok(alive(shell!), 'the script is gone');
});

test('script: a timeout counts as a failed attempt in the batch', async () => {
  const path = await script('hang.sh', 'sleep 600');
  const rec = await writeRecording(ws.spool, { start: new Date('2026-11-20T10:15:00Z') });
  await enqueueDelivery(ws.spool, { id: rec.id, audio: rec.audio, journal: rec.journal, rule: null, script: path });
  const summary = await runDeliveryBatch({ policy: testPolicy({ spool: ws.spool, scriptTimeoutSeconds: 1 }), log: memoryLogger().log });
  assert.is(summary.failed, 1);
  const [item] = await listQueue(ws.spool);
  assert.ok(item!.ok && /timed out/.test(String(item.item.destinations[0]!.lastError)));
});

test('script: a missing audio file fails the attempt without running the script', async () => {
  const ran = join(ws.root, 'ran');
  const path = await script('archive.sh', `touch ${JSON.stringify(ran)}`);
  await enqueueDelivery(ws.spool, { id: 'gone-1', audio: join(ws.spool, 'gone.wav'), journal: join(ws.spool, 'gone.json'), rule: null, script: path });
  const summary = await runDeliveryBatch({ policy: testPolicy({ spool: ws.spool }), log: memoryLogger().log });
  assert.is(summary.failed, 1);
  await access(ran).then(() => assert.unreachable('script ran'), () => {});
});

test('script: a missing script is named in the error', async () => {
  const missing = join(ws.config, 'scripts', 'gone.sh');
  const outcome = await runDeliveryScript({ script: missing, audioPath: '/a.wav', journalPath: '/a.json', timeoutSeconds: 5, id: 'x' }, memoryLogger().log);
  assert.equal(outcome, { ok: false, error: `script not found: ${missing}` });
});

test('a corrupt queue file is set aside in the dead-letter folder, the rest is delivered', async () => {
  const path = await script('ok.sh', 'exit 0');
  const rec = await writeRecording(ws.spool, { start: new Date('2026-11-20T10:15:00Z') });
  await enqueueDelivery(ws.spool, { id: rec.id, audio: rec.audio, journal: rec.journal, rule: null, script: path });
  await writeFile(join(queueDir(ws.spool), 'torn.json'), '{"version":1,"id":');
  const { lines, log } = memoryLogger();
  const summary = await runDeliveryBatch({ policy: testPolicy({ spool: ws.spool }), log });
  assert.equal([summary.sent, summary.pending], [1, 0]);
  assert.equal(await readdir(queueDir(ws.spool, 'dead')), ['torn.unreadable']);
  assert.ok(lines.some((l) => l.level === 'error' && /unreadable delivery queue file/.test(l.msg)));
});

test('script: e-mail done and script failing → only the script is retried', async () => {
  const { startSmtp } = await import('./support.ts');
  const smtp = await startSmtp();
  try {
    const flag = join(ws.root, 'ok');
    const path = await script('s.sh', `[ -e ${JSON.stringify(flag)} ] || exit 1`);
    const rec = await writeRecording(ws.spool, { start: new Date('2026-11-20T10:15:00Z') });
    await enqueueDelivery(ws.spool, { id: rec.id, audio: rec.audio, journal: rec.journal, rule: 'sales-external', email: ['a@example.com'], script: path });
    const policy = testPolicy({ spool: ws.spool, smtp: { host: '127.0.0.1', port: smtp.port } });
    const first = await runDeliveryBatch({ policy, log: memoryLogger().log });
    assert.equal([first.sent, first.failed, first.pending], [1, 1, 1]);
    await writeFile(flag, '');
    const second = await runDeliveryBatch({ policy, log: memoryLogger().log });
    assert.equal([second.sent, second.failed, second.pending], [1, 0, 0]);
    assert.is(smtp.received.length, 1, 'the mail went out once');
  } finally {
    await smtp.close();
  }
});

test.run();
