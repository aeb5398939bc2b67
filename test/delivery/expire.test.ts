import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { enqueueDelivery, finishQueueItem, listQueue, queueDir } from '../../runtime/delivery-queue.ts';
import { acquireBatchLock } from '../../runtime/batch-lock.ts';
import type { DeletionRecord } from '../../runtime/deletion-log.ts';
import { runExpire } from '../../runtime/expire.ts';
import { makeWorkspace, memoryLogger, testPolicy, wavBytes, writePolicy, writeRecording, type Recording } from './support.ts';

type Workspace = Awaited<ReturnType<typeof makeWorkspace>>;
let ws: Workspace;
test.before.each(async () => {
  ws = await makeWorkspace();
});
test.after.each(async () => {
  await rm(ws.root, { recursive: true, force: true });
});

const NOW = new Date(2026, 5, 30, 12, 0); // 30 June 2026, local time of the "PBX"
const daysBefore = (days: number, hour = 10) => new Date(NOW.getFullYear(), NOW.getMonth(), NOW.getDate() - days, hour, 0);
const exists = (path: string) => access(path).then(() => true, () => false);
const policy = () =>
  testPolicy({
    spool: ws.spool,
    retentionDays: 90,
    rules: [
      { id: 'sales-external', name: 'Vertrieb', mode: 'auto', retentionDays: 180, deliver: { email: ['a@example.com'] } },
      { id: 'support-manual', name: 'Support', mode: 'manual', retentionDays: 90, deliver: {} },
    ],
  });

interface Tree {
  expired: Recording;
  keptByRule: Recording;
  expiredLongRule: Recording;
  pending: Recording;
  young: Recording;
  orphanOld: string;
  orphanYoung: string;
}

async function tree(): Promise<Tree> {
  const expired = await writeRecording(ws.spool, { start: daysBefore(120), rule: 'support-manual', retentionDays: 90 });
  const keptByRule = await writeRecording(ws.spool, { start: daysBefore(120), rule: 'sales-external', retentionDays: 180 });
  const expiredLongRule = await writeRecording(ws.spool, { start: daysBefore(200), rule: 'sales-external', retentionDays: 180 });
  const pending = await writeRecording(ws.spool, { start: daysBefore(100), rule: 'support-manual', retentionDays: 90 });
  const young = await writeRecording(ws.spool, { start: daysBefore(10), rule: 'support-manual', retentionDays: 90 });
  // A delivered marker of the expired recording goes with it; the pending one is still queued.
  await enqueueDelivery(ws.spool, { id: expired.id, audio: expired.audio, journal: expired.journal, rule: 'support-manual', script: '/bin/true' });
  const [item] = (await listQueue(ws.spool)).flatMap((l) => (l.ok ? [l.item] : []));
  await finishQueueItem(ws.spool, item!, 'delivered');
  await enqueueDelivery(ws.spool, { id: pending.id, audio: pending.audio, journal: pending.journal, rule: 'support-manual', script: '/bin/true' });

  const orphan = async (days: number, name: string) => {
    const start = daysBefore(days);
    const dir = join(ws.spool, String(start.getFullYear()), String(start.getMonth() + 1).padStart(2, '0'), String(start.getDate()).padStart(2, '0'));
    await mkdir(dir, { recursive: true });
    const path = join(dir, name);
    await writeFile(path, wavBytes(1));
    await utimes(path, start, start);
    return path;
  };
  return {
    expired, keptByRule, expiredLongRule, pending, young,
    orphanOld: await orphan(190, '1750000000.9-1750000000.wav'),
    orphanYoung: await orphan(100, '1760000000.9-1760000000.wav'),
  };
}

async function deletionLog(): Promise<DeletionRecord[]> {
  const text = await readFile(join(ws.spool, '.mitschnitt', 'deletions.log'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as DeletionRecord);
}

test('expire: deletes by each journal’s retention, keeps pending deliveries, logs every deletion first', async () => {
  const t = await tree();
  const { lines, log } = memoryLogger();
  const summary = await runExpire({ policy: policy(), log, now: NOW });

  for (const rec of [t.expired, t.expiredLongRule]) {
    assert.not.ok(await exists(rec.audio), `${rec.id} audio deleted`);
    assert.not.ok(await exists(rec.journal), `${rec.id} journal deleted`);
  }
  assert.not.ok(await exists(t.orphanOld), 'audio without journal older than the longest retention is deleted');
  for (const rec of [t.keptByRule, t.pending, t.young]) {
    assert.ok(await exists(rec.audio), `${rec.id} audio kept`);
    assert.ok(await exists(rec.journal), `${rec.id} journal kept`);
  }
  assert.ok(await exists(t.orphanYoung));
  assert.not.ok(await exists(join(queueDir(ws.spool, 'delivered'), `${t.expired.id}.json`)), 'the delivered marker went too');
  assert.equal(summary.keptPending, [t.pending.id]);
  assert.ok(lines.some((l) => l.level === 'warn' && l.id === t.pending.id && /delivery is still pending/.test(l.msg)));
  assert.is(summary.deleted, 3);

  const records = await deletionLog();
  assert.equal(records.map((r) => r.id).sort(), [t.expired.id, t.expiredLongRule.id, '1750000000.9-1750000000'].sort());
  const byId = new Map(records.map((r) => [r.id, r]));
  const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
  assert.is(byId.get(t.expired.id)!.sha256, sha(t.expired.bytes));
  assert.is(byId.get(t.expired.id)!.reason, 'retention');
  assert.is(byId.get(t.expiredLongRule.id)!.retentionDays, 180);
  assert.is(byId.get('1750000000.9-1750000000')!.reason, 'retention-no-journal');
  assert.is(byId.get('1750000000.9-1750000000')!.sha256, sha(wavBytes(1)));
  for (const r of records) assert.ok(!Number.isNaN(Date.parse(r.deletedAt)));
});

test('expire: a journal hash in the deletion log matches the deleted journal’s bytes (the chain stays checkable)', async () => {
  const rec = await writeRecording(ws.spool, { start: daysBefore(95), rule: 'support-manual', retentionDays: 90 });
  const bytes = await readFile(rec.journal);
  await runExpire({ policy: policy(), log: memoryLogger().log, now: NOW });
  const [record] = await deletionLog();
  assert.is(record!.journalSha256, createHash('sha256').update(bytes).digest('hex'));
});

test('expire: empty date folders are removed, up to the year', async () => {
  const t = await tree();
  await runExpire({ policy: policy(), log: memoryLogger().log, now: NOW });
  const longGone = dirname(t.expiredLongRule.audio);
  assert.not.ok(await exists(longGone), 'day folder removed');
  assert.not.ok(await exists(dirname(longGone)), 'month folder removed');
  assert.ok(await exists(dirname(t.keptByRule.audio)), 'a folder still holding a recording stays');
});

test('expire: --dry-run deletes nothing and writes no deletion log', async () => {
  const t = await tree();
  const { lines, log } = memoryLogger();
  const summary = await runExpire({ policy: policy(), log, now: NOW, dryRun: true });
  assert.is(summary.deleted, 3);
  for (const rec of [t.expired, t.expiredLongRule]) assert.ok(await exists(rec.audio));
  assert.ok(await exists(t.orphanOld));
  assert.equal(await deletionLog(), []);
  assert.is(lines.filter((l) => l.msg === 'would delete').length, 3);
});

test('expire: folders younger than the shortest retention are never read', async () => {
  await tree();
  const youngDir = dirname((await writeRecording(ws.spool, { start: daysBefore(5) })).audio);
  await writeFile(join(youngDir, 'broken-1.json'), '{not json');
  const summary = await runExpire({ policy: policy(), log: memoryLogger().log, now: NOW });
  assert.equal(summary.problems, [], 'the broken journal in a young folder was not even opened');
  assert.ok(summary.foldersSkipped >= 2);
  assert.is(summary.journalsRead, 4, 'only the journals of old folders were read');
});

test('expire: an unreadable old journal is kept and reported, never deleted blindly', async () => {
  const rec = await writeRecording(ws.spool, { start: daysBefore(300) });
  await writeFile(rec.journal, '{"version":1,');
  const summary = await runExpire({ policy: policy(), log: memoryLogger().log, now: NOW });
  assert.is(summary.problems.length, 1);
  assert.ok(await exists(rec.audio));
  assert.ok(await exists(rec.journal));
});

test('expire: if the deletion log cannot be written, nothing is deleted', async () => {
  const t = await tree();
  await mkdir(join(ws.spool, '.mitschnitt', 'deletions.log'), { recursive: true });
  await writePolicy(ws.config, policy());
  const r = spawnSync(process.execPath, ['bin/mitschnitt.js', 'expire', '--config', ws.config, '--now', NOW.toISOString()], { encoding: 'utf8' });
  assert.is(r.status, 1, r.stderr + r.stdout);
  assert.match(r.stderr, /deletion log/);
  assert.not.match(r.stderr, /at .*\.ts:\d+/, 'no stack trace');
  assert.ok(await exists(t.expired.audio));
  assert.ok(await exists(t.orphanOld));
});

test('expire: a second run while one holds the lock does nothing', async () => {
  const t = await tree();
  const held = await acquireBatchLock(join(ws.spool, '.mitschnitt', 'expire.lock'));
  assert.ok(held.acquired);
  const { lines, log } = memoryLogger();
  const summary = await runExpire({ policy: policy(), log, now: NOW });
  if (held.acquired) await held.release();
  assert.is(summary.ran, false);
  assert.ok(lines.some((l) => /another expire run is in progress/.test(l.msg)));
  assert.ok(await exists(t.expired.audio));
});

test('expire CLI: --now in the future only with --dry-run; a bad --now is a usage error', async () => {
  await writePolicy(ws.config, policy());
  const future = new Date(Date.now() + 86_400_000).toISOString();
  const refused = spawnSync(process.execPath, ['bin/mitschnitt.js', 'expire', '--config', ws.config, '--now', future], { encoding: 'utf8' });
  assert.is(refused.status, 2);
  assert.match(refused.stderr, /only with --dry-run/);
  const dry = spawnSync(process.execPath, ['bin/mitschnitt.js', 'expire', '--config', ws.config, '--now', future, '--dry-run'], { encoding: 'utf8' });
  assert.is(dry.status, 0, dry.stderr);
  assert.match(dry.stdout, /expire dry run finished/);
  const bad = spawnSync(process.execPath, ['bin/mitschnitt.js', 'expire', '--config', ws.config, '--now', 'yesterday'], { encoding: 'utf8' });
  assert.is(bad.status, 2);
});

test.run();
