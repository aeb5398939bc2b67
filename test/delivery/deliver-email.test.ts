import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runDeliveryBatch } from '../../runtime/deliver-batch.ts';
import { enqueueDelivery, listQueue, queueDir, requeueDead } from '../../runtime/delivery-queue.ts';
import { freePort, makeWorkspace, memoryLogger, startSmtp, testPolicy, writeRecording, type Recording } from './support.ts';

type Workspace = Awaited<ReturnType<typeof makeWorkspace>>;
let ws: Workspace;
const servers: { close(): Promise<void> }[] = [];

test.before.each(async () => {
  ws = await makeWorkspace();
  await writeFile(join(ws.secrets, 'smtp'), 's3cret\n');
});
test.after.each(async () => {
  while (servers.length) await servers.pop()!.close();
  await rm(ws.root, { recursive: true, force: true });
});

async function smtpServer(o: Parameters<typeof startSmtp>[0] = {}) {
  const server = await startSmtp(o);
  servers.push(server);
  return server;
}

async function queued(o: { to?: string[]; seconds?: number; callerName?: string } = {}): Promise<Recording> {
  const rec = await writeRecording(ws.spool, { start: new Date('2026-11-20T10:15:00Z'), seconds: o.seconds, callerName: o.callerName });
  await enqueueDelivery(ws.spool, { id: rec.id, audio: rec.audio, journal: rec.journal, rule: 'sales-external', email: o.to ?? ['archiv@example.com'] });
  return rec;
}

test('e-mail: the recording arrives attached, byte for byte, with a German subject, via SMTP auth', async () => {
  const smtp = await smtpServer({ auth: { user: 'mitschnitt@example.com', pass: 's3cret' } });
  const policy = testPolicy({ spool: ws.spool, secretsDir: ws.secrets, smtp: { host: '127.0.0.1', port: smtp.port, user: 'mitschnitt@example.com', password: 'smtp' } });
  const rec = await queued({ to: ['archiv@example.com', 'chefin@example.com'] });
  const { log } = memoryLogger();

  const summary = await runDeliveryBatch({ policy, log });

  assert.is(summary.sent, 1);
  assert.is(summary.pending, 0);
  assert.is(smtp.received.length, 1);
  const mail = smtp.received[0]!;
  assert.equal(mail.envelopeTo.sort(), ['archiv@example.com', 'chefin@example.com']);
  assert.is(mail.user, 'mitschnitt@example.com');
  assert.match(mail.parsed.subject ?? '', /^Gesprächsaufzeichnung: Anna Schmidt \(201\) → \+4930123456/);
  assert.match(mail.parsed.text ?? '', /Richtung:\s+ausgehend, extern/);
  assert.match(mail.parsed.text ?? '', /Regel:\s+Vertrieb extern \(sales-external\)/);
  assert.is(mail.parsed.attachments.length, 1);
  assert.is(mail.parsed.attachments[0]!.filename, `${rec.id}.wav`);
  assert.ok(mail.parsed.attachments[0]!.content.equals(rec.bytes), 'attachment bytes equal the audio file');
  assert.equal(await readdir(queueDir(ws.spool)), []);
  assert.equal(await readdir(queueDir(ws.spool, 'delivered')), [`${rec.id}.json`]);

  const again = await runDeliveryBatch({ policy, log });
  assert.is(again.sent, 0);
  assert.is(smtp.received.length, 1, 'a delivered recording is never sent again');
});

test('e-mail: SMTP down → failed and kept; the next batch delivers it exactly once', async () => {
  const port = await freePort();
  const policy = testPolicy({ spool: ws.spool, secretsDir: ws.secrets, smtp: { host: '127.0.0.1', port } });
  const first = await queued();
  const second = await queued();
  const { lines, log } = memoryLogger();

  const down = await runDeliveryBatch({ policy, log });
  assert.is(down.sent, 0);
  assert.is(down.failed, 1, 'one attempt is counted');
  assert.is(down.deferred, 1, 'the other mail waits without burning an attempt');
  assert.is(down.pending, 2);
  const items = (await listQueue(ws.spool)).flatMap((l) => (l.ok ? [l.item] : []));
  assert.equal(items.map((i) => i.destinations[0]!.attempts).sort(), [0, 1]);
  assert.match(String(items.find((i) => i.destinations[0]!.attempts === 1)!.destinations[0]!.lastError), /mail server/);
  assert.ok(lines.some((l) => l.level === 'error' && /e-mail delivery unavailable/.test(l.msg)));

  const smtp = await smtpServer({ port });
  const up = await runDeliveryBatch({ policy, log });
  assert.is(up.sent, 2);
  assert.is(up.pending, 0);
  assert.equal(smtp.received.map((m) => m.parsed.attachments[0]!.filename).sort(), [`${first.id}.wav`, `${second.id}.wav`].sort());

  await runDeliveryBatch({ policy, log });
  assert.is(smtp.received.length, 2, 'delivered exactly once');
});

test('e-mail: above maxAttachmentMB no attachment, but a note with the path and size', async () => {
  const smtp = await smtpServer();
  const policy = testPolicy({ spool: ws.spool, secretsDir: ws.secrets, smtp: { host: '127.0.0.1', port: smtp.port, maxAttachmentMB: 0.01 } });
  const rec = await queued({ seconds: 3 });
  await runDeliveryBatch({ policy, log: memoryLogger().log });
  const mail = smtp.received[0]!;
  assert.is(mail.parsed.attachments.length, 0);
  assert.ok((mail.parsed.text ?? '').includes(rec.audio), 'the body names where the file is');
  assert.match(mail.parsed.text ?? '', /zu groß für den Versand als Anhang \(46,9 KB, Grenze 10,2 KB\)/);
});

test('e-mail: English templates when smtp.language is en', async () => {
  const smtp = await smtpServer();
  const policy = testPolicy({ spool: ws.spool, secretsDir: ws.secrets, smtp: { host: '127.0.0.1', port: smtp.port, language: 'en' } });
  await queued();
  await runDeliveryBatch({ policy, log: memoryLogger().log });
  assert.match(smtp.received[0]!.parsed.subject ?? '', /^Call recording: Anna Schmidt \(201\) → \+4930123456/);
  assert.match(smtp.received[0]!.parsed.text ?? '', /Direction:\s+outbound, external/);
});

test('e-mail: a caller name with line breaks cannot add headers or recipients', async () => {
  const smtp = await smtpServer();
  const policy = testPolicy({ spool: ws.spool, secretsDir: ws.secrets, smtp: { host: '127.0.0.1', port: smtp.port } });
  await queued({ callerName: 'Evil\r\nBcc: attacker@example.org\r\nX-Injected: 1' });
  await runDeliveryBatch({ policy, log: memoryLogger().log });
  const mail = smtp.received[0]!;
  assert.equal(mail.envelopeTo, ['archiv@example.com']);
  assert.is(mail.parsed.headers.get('x-injected'), undefined);
  assert.match(mail.parsed.subject ?? '', /Evil Bcc: attacker@example\.org X-Injected: 1/);
});

test('e-mail: a permanently rejected recipient goes to the dead-letter folder after maxAttempts, loudly', async () => {
  const smtp = await smtpServer({ rejectRcpt: true });
  const policy = testPolicy({ spool: ws.spool, secretsDir: ws.secrets, maxAttempts: 3, smtp: { host: '127.0.0.1', port: smtp.port } });
  const rec = await queued();
  const { lines, log } = memoryLogger();
  for (let batch = 1; batch <= 2; batch++) {
    const s = await runDeliveryBatch({ policy, log });
    assert.is(s.failed, 1);
    assert.is(s.pending, 1, `still queued after batch ${batch}`);
  }
  const last = await runDeliveryBatch({ policy, log });
  assert.is(last.dead, 1);
  assert.is(last.pending, 0);
  assert.is(last.deadTotal, 1);
  const dead = JSON.parse(await readFile(join(queueDir(ws.spool, 'dead'), `${rec.id}.json`), 'utf8'));
  assert.is(dead.destinations[0].attempts, 3);
  assert.match(dead.destinations[0].lastError, /mailbox unavailable/);
  assert.ok(lines.some((l) => l.level === 'error' && /DELIVERY GAVE UP/.test(l.msg) && l.id === rec.id));
  const after = await runDeliveryBatch({ policy, log });
  assert.is(after.failed, 0, 'dead letters are not retried automatically');

  // The admin fixes the cause and requeues: attempts start again, the mail goes out once.
  const fixed = await smtpServer();
  const healthy = testPolicy({ spool: ws.spool, secretsDir: ws.secrets, maxAttempts: 3, smtp: { host: '127.0.0.1', port: fixed.port } });
  assert.equal(await requeueDead(ws.spool, [rec.id]), [rec.id]);
  const requeued = await runDeliveryBatch({ policy: healthy, log });
  assert.equal([requeued.sent, requeued.pending, requeued.deadTotal], [1, 0, 0]);
  assert.is(fixed.received.length, 1);
});

test('e-mail: --dry-run sends nothing and changes no state; --limit processes only N items', async () => {
  const smtp = await smtpServer();
  const policy = testPolicy({ spool: ws.spool, secretsDir: ws.secrets, smtp: { host: '127.0.0.1', port: smtp.port } });
  for (let i = 0; i < 3; i++) await queued();
  const before = await Promise.all((await readdir(queueDir(ws.spool))).map((n) => readFile(join(queueDir(ws.spool), n), 'utf8')));
  const { lines, log } = memoryLogger();
  const dry = await runDeliveryBatch({ policy, log, dryRun: true });
  assert.is(smtp.received.length, 0);
  assert.is(dry.pending, 3);
  assert.is(lines.filter((l) => l.msg === 'would deliver').length, 3);
  const after = await Promise.all((await readdir(queueDir(ws.spool))).map((n) => readFile(join(queueDir(ws.spool), n), 'utf8')));
  assert.equal(after, before);

  const limited = await runDeliveryBatch({ policy, log, limit: 2 });
  assert.is(limited.sent, 2);
  assert.is(limited.pending, 1);
  assert.is(smtp.received.length, 2);
});

test('e-mail: an unreadable SMTP password defers every mail without counting attempts', async () => {
  const smtp = await smtpServer({ auth: { user: 'u@example.com', pass: 'x' } });
  const policy = testPolicy({ spool: ws.spool, secretsDir: join(ws.root, 'nowhere'), smtp: { host: '127.0.0.1', port: smtp.port, user: 'u@example.com', password: 'smtp' } });
  await queued();
  const { lines, log } = memoryLogger();
  const s = await runDeliveryBatch({ policy, log });
  assert.is(s.deferred, 1);
  assert.is(s.failed, 0);
  const [item] = await listQueue(ws.spool);
  assert.ok(item!.ok && item.item.destinations[0]!.attempts === 0);
  assert.ok(lines.some((l) => l.level === 'error' && /cannot read secret/.test(String(l.error))));
});

test.run();
