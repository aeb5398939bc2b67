import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rejects } from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enqueueDelivery, finishQueueItem, fsyncDir, listQueue, queueDir, saveQueueItem } from '../../runtime/delivery-queue.ts';

let spool = '';
test.before.each(async () => {
  spool = await mkdtemp(join(tmpdir(), 'mitschnitt-queue-'));
});
test.after.each(async () => {
  await rm(spool, { recursive: true, force: true });
});

const request = (id: string) => ({
  id,
  audio: `/var/spool/x/${id}.wav`,
  journal: `/var/spool/x/${id}.json`,
  rule: 'sales-external',
  email: ['archiv@example.com'],
  script: '/etc/mitschnitt/current/scripts/archive.sh',
});

test('enqueue writes one item with one destination per e-mail list and script, nothing else', async () => {
  assert.is(await enqueueDelivery(spool, request('1700000000.1-1700000000')), true);
  assert.equal(await readdir(queueDir(spool)), ['1700000000.1-1700000000.json']);
  const item = JSON.parse(await readFile(join(queueDir(spool), '1700000000.1-1700000000.json'), 'utf8'));
  assert.equal(
    item.destinations.map((d: { kind: string }) => d.kind),
    ['email', 'script'],
  );
  assert.is(item.destinations[0].attempts, 0);
  assert.is(item.destinations[0].done, false);
});

test('enqueue is idempotent per id and never resets the attempt state', async () => {
  await enqueueDelivery(spool, request('a-1'));
  const [loaded] = await listQueue(spool);
  if (!loaded.ok) throw new Error(loaded.error);
  loaded.item.destinations[0].attempts = 3;
  await saveQueueItem(spool, loaded.item);
  assert.is(await enqueueDelivery(spool, request('a-1')), false);
  const [again] = await listQueue(spool);
  assert.ok(again.ok && again.item.destinations[0].attempts === 3);
});

test('a burst of enqueues (one shared folder fsync) queues every item once', async () => {
  const ids = Array.from({ length: 200 }, (_, i) => `1700000000.${i}-1700000000`);
  const created = await Promise.all(ids.map((id) => enqueueDelivery(spool, request(id))));
  assert.ok(created.every(Boolean));
  assert.equal((await readdir(queueDir(spool))).sort(), ids.map((id) => `${id}.json`).sort());
  assert.equal(await Promise.all(ids.slice(0, 5).map((id) => enqueueDelivery(spool, request(id)))), [false, false, false, false, false]);
});

test('a failed shared folder fsync fails its callers only; the next one runs afresh', async () => {
  const missing = join(spool, 'gone');
  const burst = await Promise.allSettled(Array.from({ length: 5 }, () => fsyncDir(missing)));
  assert.ok(burst.every((r) => r.status === 'rejected' && /ENOENT/.test(String(r.reason))));
  await mkdir(missing);
  await fsyncDir(missing);
});

test('a delivered or dead id is not queued again', async () => {
  await enqueueDelivery(spool, request('b-1'));
  await enqueueDelivery(spool, request('c-1'));
  const items = (await listQueue(spool)).flatMap((l) => (l.ok ? [l.item] : []));
  await finishQueueItem(spool, items.find((i) => i.id === 'b-1')!, 'delivered');
  await finishQueueItem(spool, items.find((i) => i.id === 'c-1')!, 'dead');
  assert.equal(await readdir(queueDir(spool)), []);
  assert.is(await enqueueDelivery(spool, request('b-1')), false);
  assert.is(await enqueueDelivery(spool, request('c-1')), false);
  assert.equal(await readdir(queueDir(spool)), []);
});

test('unsafe ids, relative paths and requests without destination are refused', async () => {
  for (const id of ['../etc/passwd', 'a/b', '.hidden', '', 'x y']) {
    await rejects(() => enqueueDelivery(spool, request(id)), /unsafe recording id/);
  }
  await rejects(() => enqueueDelivery(spool, { ...request('d-1'), audio: 'rel.wav' }), /absolute/);
  await rejects(
    () => enqueueDelivery(spool, { id: 'e-1', audio: '/a.wav', journal: '/a.json', rule: null, email: [] }),
    /no destination/,
  );
});

test('a corrupt queue file is reported by listQueue, not dropped', async () => {
  await enqueueDelivery(spool, request('f-1'));
  const { writeFile } = await import('node:fs/promises');
  await writeFile(join(queueDir(spool), 'broken.json'), '{"version":1,');
  const listed = await listQueue(spool);
  assert.is(listed.length, 2);
  assert.ok(listed.some((l) => !l.ok && l.file.endsWith('broken.json')));
});

test.run();
