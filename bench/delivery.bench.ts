// Delivery and retention figures: retention sweep vs `find -mtime -delete`, SHA-256 (Node vs sha256sum),
// e-mails per second to a loopback SMTP server. Prints figures; never passes or fails on time.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, rm, statfs, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDeliveryBatch } from '../runtime/deliver-batch.ts';
import { enqueueDelivery } from '../runtime/delivery-queue.ts';
import { runExpire } from '../runtime/expire.ts';
import { silentLogger } from '../runtime/log.ts';
import { startSmtp, testPolicy, wavBytes, writeRecording } from '../test/delivery/support.ts';

const RECORDINGS = Number(process.env.BENCH_RECORDINGS ?? 100_000);
const DAYS = 200;
const HASH_MB = Number(process.env.BENCH_HASH_MB ?? 1024);
const MAILS = Number(process.env.BENCH_MAILS ?? 300);

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
const pad = (n: number) => String(n).padStart(2, '0');
const root = await mkdtemp(join(tmpdir(), 'mitschnitt-bench-delivery-'));

try {
  await retentionSweep();
  await hashing();
  await mailRate();
} finally {
  await rm(root, { recursive: true, force: true });
}

/** Two identical spools of RECORDINGS tiny recordings over DAYS days; 10 % belong to a rule kept 180 days. */
async function retentionSweep(): Promise<void> {
  const now = new Date();
  const audio = wavBytes(0.01);
  const build = async (spool: string) => {
    const one = async (i: number) => {
      const day = Math.floor((i * DAYS) / RECORDINGS);
      const start = new Date(now.getFullYear(), now.getMonth(), now.getDate() - day, 9, 0, i % 3600);
      const dir = join(spool, String(start.getFullYear()), pad(start.getMonth() + 1), pad(start.getDate()));
      const epoch = Math.floor(start.getTime() / 1000);
      const id = `${epoch}.${i}-${epoch}`;
      const long = i % 10 === 0;
      const journal = {
        version: 1, id, audio: `${id}.wav`, host: 'pbx', start: start.toISOString(), end: start.toISOString(),
        durationSeconds: 0.01, caller: { number: '201' }, callee: { number: '+4930123' }, participants: [],
        direction: 'outbound', origin: 'external', decision: 'auto', rule: long ? 'long' : 'short',
        sizeBytes: audio.length, sha256: createHash('sha256').update(audio).digest('hex'), previousHash: null,
        channel: 'PJSIP/201-1', uniqueid: `${epoch}.${i}`, linkedid: `${epoch}.${i}`, retentionDays: long ? 180 : 90,
      };
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, `${id}.wav`), audio);
      await writeFile(join(dir, `${id}.json`), JSON.stringify(journal));
      await utimes(join(dir, `${id}.wav`), start, start);
      await utimes(join(dir, `${id}.json`), start, start);
    };
    for (let i = 0; i < RECORDINGS; i += 256) {
      await Promise.all(Array.from({ length: Math.min(256, RECORDINGS - i) }, (_, k) => one(i + k)));
    }
  };
  const ours = join(root, 'spool-expire');
  const theirs = join(root, 'spool-find');
  let t = process.hrtime.bigint();
  await build(ours);
  const built = seconds(t);
  // An identical copy (mtimes preserved) for find.
  t = process.hrtime.bigint();
  spawnSync('cp', ['-a', ours, theirs]);
  console.log(`generated ${RECORDINGS} recordings over ${DAYS} days in ${built.toFixed(1)} s, copied them with cp -a in ${seconds(t).toFixed(1)} s`);

  const policy = testPolicy({
    spool: ours,
    retentionDays: 90,
    rules: [
      { id: 'short', name: 'short', mode: 'auto', retentionDays: 90, deliver: {} },
      { id: 'long', name: 'long', mode: 'auto', retentionDays: 180, deliver: {} },
    ],
  });
  t = process.hrtime.bigint();
  const first = await runExpire({ policy, log: silentLogger, now });
  const firstSeconds = seconds(t);
  console.log(
    `mitschnitt expire, first sweep: ${firstSeconds.toFixed(2)} s; deleted ${first.deleted} recordings (${(first.deleted / firstSeconds).toFixed(0)}/s), ` +
      `read ${first.journalsRead} journals, skipped ${first.foldersSkipped} of ${first.foldersSkipped + first.foldersScanned} day folders unread`,
  );
  t = process.hrtime.bigint();
  const second = await runExpire({ policy, log: silentLogger, now });
  console.log(
    `mitschnitt expire, next daily run (nothing new expired): ${seconds(t).toFixed(2)} s, read ${second.journalsRead} journals (long-retention ones)`,
  );

  t = process.hrtime.bigint();
  const find = spawnSync('find', [theirs, '-type', 'f', '-mtime', '+90', '-delete']);
  console.log(`find SPOOL -type f -mtime +90 -delete: ${seconds(t).toFixed(2)} s (exit ${find.status}; no journal retention, no evidence log, no pending check)`);
  await rm(ours, { recursive: true, force: true });
  await rm(theirs, { recursive: true, force: true });
}

/** SHA-256 of HASH_MB of recording data (10 files), Node's crypto stream vs sha256sum. */
async function hashing(): Promise<void> {
  const fs = await statfs(root);
  const freeMB = (fs.bavail * fs.bsize) / 1e6;
  const mb = Math.min(HASH_MB, Math.floor(freeMB / 4));
  const dir = join(root, 'hash');
  await mkdir(dir);
  const files: string[] = [];
  const chunk = wavBytes(60).subarray(0, 1024 * 1024);
  for (let f = 0; f < 10; f++) {
    const path = join(dir, `rec-${f}.wav`);
    const handle = await open(path, 'w');
    for (let i = 0; i < mb / 10; i++) await handle.write(chunk);
    await handle.close();
    files.push(path);
  }
  const total = files.length * Math.floor(mb / 10);
  let t = process.hrtime.bigint();
  for (const path of files) {
    await new Promise<void>((resolve, reject) => {
      const hash = createHash('sha256');
      createReadStream(path, { highWaterMark: 1024 * 1024 }).on('data', (d) => hash.update(d)).on('error', reject).on('end', () => resolve());
    });
  }
  const node = seconds(t);
  t = process.hrtime.bigint();
  spawnSync('sha256sum', files, { stdio: 'ignore' });
  const coreutils = seconds(t);
  console.log(
    `SHA-256 of ${total} MiB (page cache warm): node:crypto ${node.toFixed(2)} s (${(total / node).toFixed(0)} MiB/s), ` +
      `sha256sum ${coreutils.toFixed(2)} s (${(total / coreutils).toFixed(0)} MiB/s)`,
  );
  await rm(dir, { recursive: true, force: true });
}

/** MAILS recordings of 10 s (160 KB each, attached) delivered through `runDeliveryBatch` to smtp-server on 127.0.0.1. */
async function mailRate(): Promise<void> {
  const spool = join(root, 'spool-mail');
  const smtp = await startSmtp();
  try {
    const start = new Date(2026, 0, 15, 10, 0);
    for (let i = 0; i < MAILS; i++) {
      const rec = await writeRecording(spool, { start, seconds: 10, uniqueid: `1768467600.${i}` });
      await enqueueDelivery(spool, { id: rec.id, audio: rec.audio, journal: rec.journal, rule: 'sales-external', email: ['archiv@example.com'] });
    }
    const policy = testPolicy({ spool, smtp: { host: '127.0.0.1', port: smtp.port } });
    const t = process.hrtime.bigint();
    const summary = await runDeliveryBatch({ policy, log: silentLogger });
    const s = seconds(t);
    console.log(
      `e-mail delivery: ${summary.sent} mails with a 160 KB attachment in ${s.toFixed(2)} s = ${(summary.sent / s).toFixed(1)} mails/s ` +
        `(one pooled SMTP connection, 3 fsynced queue-state writes per mail; received ${smtp.received.length})`,
    );
  } finally {
    await smtp.close();
  }
}
