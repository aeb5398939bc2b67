// The evening batch: BENCH_BATCH_MAILS (default 1,000; the README figure is 10,000) recordings delivered by e-mail
// with `mitschnitt deliver` as cron runs it (a real process) to a local SMTP server (smtp-server on 127.0.0.1, its
// own process). Then the same batch killed (SIGKILL) halfway and run again: how many mails went out twice.
// And the parts on their own: the fsynced queue-state writes, and nodemailer's SMTP sending without a queue.
// Audio files are hard links of one WAV of BENCH_BATCH_SECONDS (default 60 s = 0.96 MB), so disk use stays small.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { link, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createMailer } from '../runtime/deliver-email.ts';
import { enqueueDelivery, newQueueItem, saveQueueItem } from '../runtime/delivery-queue.ts';
import type { Journal } from '../runtime/journal.ts';
import { testPolicy, wavBytes, writePolicy } from '../test/delivery/support.ts';

const MAILS = Number(process.env.BENCH_BATCH_MAILS ?? 1_000);
const SECONDS = Number(process.env.BENCH_BATCH_SECONDS ?? 60);
const KILL_MAILS = Math.min(MAILS, 1_000);
const repo = fileURLToPath(new URL('..', import.meta.url));
const elapsed = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e9;
const root = await mkdtemp(join(tmpdir(), 'mitschnitt-bench-batch-'));
const sink = await startSink();

try {
  const audio = wavBytes(SECONDS);
  const master = join(root, 'master.wav');
  await writeFile(master, audio);
  const sha = createHash('sha256').update(audio).digest('hex');
  console.log(`machine: ${(await import('node:os')).cpus().length} cores; ${MAILS} mails with a ${(audio.length / 1e6).toFixed(2)} MB WAV attached`);

  // 1. The whole batch, as cron runs it.
  const clean = await workspace('clean', MAILS, master, sha);
  let t = process.hrtime.bigint();
  const run = await deliver(clean.config);
  const s = elapsed(t);
  const stats = await sink.stats();
  console.log(
    `mitschnitt deliver, ${MAILS} mails: ${s.toFixed(1)} s = ${(MAILS / s).toFixed(1)} mails/s, ${(stats.bytes / 1e6 / s).toFixed(1)} MB/s on the wire ` +
      `(exit ${run.code}; the SMTP server got ${stats.mails}, ${stats.sentTwice} twice); 10,000 would take ${((10_000 / MAILS) * s / 60).toFixed(1)} min (goal < 15)`,
  );

  // 2. Killed halfway (SIGKILL), then run again.
  const killed = await workspace('kill', KILL_MAILS, master, sha);
  await sink.stats('reset');
  const first = startDeliver(killed.config);
  while ((await sink.stats()).mails < KILL_MAILS / 2) await new Promise((r) => setTimeout(r, 20));
  first.child.kill('SIGKILL');
  await first.done;
  const second = await deliver(killed.config);
  const after = await sink.stats();
  console.log(
    `killed at ${KILL_MAILS / 2} of ${KILL_MAILS} mails and run again (exit ${second.code}): the SMTP server got ${after.mails} mails, ` +
      `${after.distinct} distinct, ${after.sentTwice} Message-IDs twice`,
  );

  // 3. The parts alone: state writes (two fsynced item writes per mail as the batch does) and SMTP sending.
  const states = join(root, 'states');
  await mkdir(states, { recursive: true });
  const n = Math.min(MAILS, 1_000);
  t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const item = newQueueItem({ id: `1768467600.${i}-1768467600`, audio: master, journal: master, rule: 'r', email: ['a@example.com'] }, new Date());
    await saveQueueItem(states, item);
    await saveQueueItem(states, item);
  }
  const stateMs = (elapsed(t) * 1000) / n;
  const policy = testPolicy({ spool: states, smtp: { host: '127.0.0.1', port: sink.port } });
  const mailer = createMailer(policy, policy.settings.smtp!, undefined);
  t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    await mailer.send({ to: ['archiv@example.com'], journal: journalOf(`x.${i}-1`, sha, audio.length), audioPath: master, sizeBytes: audio.length, messageId: `<part.${i}@bench>` });
  }
  const mailMs = (elapsed(t) * 1000) / n;
  mailer.close();
  console.log(`per mail, parts alone: queue-state writes (2 × temp+fsync+rename+dir fsync) ${stateMs.toFixed(2)} ms, SMTP send (pooled connection) ${mailMs.toFixed(2)} ms`);
} finally {
  sink.stop();
  await rm(root, { recursive: true, force: true });
}

function journalOf(id: string, sha: string, size: number): Journal {
  const start = '2026-11-20T17:00:00.000Z';
  return {
    version: 1, id, audio: `${id}.wav`, host: 'pbx-test', start, end: start, durationSeconds: SECONDS,
    caller: { number: '201', name: 'Anna Schmidt', userId: 'anna' }, callee: { number: '+4930123456' },
    participants: [], direction: 'outbound', origin: 'external', decision: 'auto', rule: 'sales-external',
    sizeBytes: size, sha256: sha, previousHash: null, channel: 'PJSIP/201-1', uniqueid: id, linkedid: id, retentionDays: 90,
  };
}

/** A spool with `count` journaled recordings (hard links of one WAV), each queued for e-mail, and its config. */
async function workspace(name: string, count: number, master: string, sha: string) {
  const spool = join(root, name, 'spool');
  const config = join(root, name, 'config');
  const day = join(spool, '2026', '11', '20');
  await mkdir(day, { recursive: true });
  await mkdir(config, { recursive: true });
  for (let i = 0; i < count; i++) {
    const id = `1763658000.${i}-1763658000`;
    const audio = join(day, `${id}.wav`);
    await link(master, audio);
    await writeFile(join(day, `${id}.json`), JSON.stringify(journalOf(id, sha, SECONDS * 16_000 + 44)));
    await enqueueDelivery(spool, { id, audio, journal: join(day, `${id}.json`), rule: 'sales-external', email: ['archiv@example.com'] }, new Date(Date.UTC(2026, 10, 20, 17, 0, 0, i)));
  }
  await writePolicy(config, testPolicy({ spool, smtp: { host: '127.0.0.1', port: sink.port } }));
  return { spool, config };
}

function startDeliver(config: string): { child: ChildProcess; done: Promise<{ code: number | null }> } {
  const child = spawn(process.execPath, [join(repo, 'bin/mitschnitt.js'), 'deliver', '--config', config], { stdio: 'ignore' });
  return { child, done: new Promise((resolve) => child.on('close', (code) => resolve({ code }))) };
}

function deliver(config: string) {
  return startDeliver(config).done;
}

interface SinkStats {
  mails: number;
  distinct: number;
  sentTwice: number;
  bytes: number;
}

async function startSink() {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repo, 'bench/smtp-sink.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async () => JSON.parse(((await lines.next()).value as string) ?? 'null') as Record<string, number>;
  const { port } = await next();
  let pending = Promise.resolve() as Promise<unknown>;
  return {
    port,
    /** One question at a time on the pipe. */
    stats(command = 'stats'): Promise<SinkStats> {
      const answer = pending.then(() => {
        child.stdin!.write(`${command}\n`);
        return next() as unknown as Promise<SinkStats>;
      });
      pending = answer;
      return answer;
    },
    stop() {
      child.stdin!.write('quit\n');
      child.stdin!.end();
    },
  };
}
