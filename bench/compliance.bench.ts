// Compliance figures: `verify` throughput (SHA-256 of every recording + the whole hash chain), the cost of
// `--since`, a data-subject search over the whole spool, and expire with many legal holds. Journals are written
// by the runtime's JournalWriter (one chain). Prints figures; never passes or fails on time.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { verifySpool } from '../runtime/integrity-verify.ts';
import { JournalWriter, journalPathFor } from '../runtime/journal.ts';
import { HoldSet, type Hold } from '../runtime/legal-hold.ts';
import { runExpire } from '../runtime/expire.ts';
import { silentLogger } from '../runtime/log.ts';
import { recordingPath } from '../runtime/recording-names.ts';
import { findSubjectRecordings } from '../runtime/subject-request.ts';
import { testPolicy, wavBytes } from '../test/delivery/support.ts';

const RECORDINGS = Number(process.env.BENCH_RECORDINGS ?? 2000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30); // 480 KB of wav each
const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;

const root = await mkdtemp(join(tmpdir(), 'mitschnitt-bench-compliance-'));
try {
  const spool = join(root, 'spool');
  const policy = testPolicy({ spool, retentionDays: 90, rules: [{ id: 'r', name: 'R', mode: 'auto', retentionDays: 90, deliver: {} }] });
  const audio = wavBytes(SECONDS);
  const sha = createHash('sha256').update(audio).digest('hex');
  const writer = await JournalWriter.open(spool);
  const now = Date.now();
  let t = process.hrtime.bigint();
  for (let i = 0; i < RECORDINGS; i++) {
    // Spread over 200 days, newest last; every 50th call with the customer +4930123456.
    const startMs = now - 200 * 86_400_000 + Math.floor((i * 200 * 86_400_000) / RECORDINGS);
    const epoch = Math.floor(startMs / 1000);
    const path = recordingPath(spool, `${epoch}.${i}`, epoch, 'wav');
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, audio);
    const other = i % 50 === 0 ? '+4930123456' : `+4940${100000 + i}`;
    await writer.write(journalPathFor(path), {
      version: 1, id: `${epoch}.${i}-${epoch}`, audio: path.slice(path.lastIndexOf('/') + 1), host: 'pbx', start: new Date(startMs).toISOString(),
      end: new Date(startMs + SECONDS * 1000).toISOString(), durationSeconds: SECONDS, caller: { number: '201', userId: 'anna' }, callee: { number: other },
      participants: [{ number: '201', userId: 'anna' }, { number: other }], direction: 'outbound', origin: 'external', decision: 'auto', rule: 'r',
      sizeBytes: audio.length, sha256: sha, channel: 'PJSIP/201-1', uniqueid: `${epoch}.${i}`, linkedid: `${epoch}.${i}`, retentionDays: 90,
    });
  }
  const mb = (RECORDINGS * audio.length) / 1e6;
  console.log(`spool: ${RECORDINGS} recordings of ${SECONDS} s (${mb.toFixed(0)} MB) written in ${seconds(t).toFixed(1)} s`);

  t = process.hrtime.bigint();
  const full = await verifySpool({ spool });
  const s1 = seconds(t);
  console.log(`verify (all): ${full.recordingsChecked} recordings, ${(full.audioBytes / 1e6).toFixed(0)} MB in ${s1.toFixed(2)} s = ${(full.audioBytes / 1e6 / s1).toFixed(0)} MB/s, ${(full.recordingsChecked / s1).toFixed(0)} recordings/s, findings ${full.findings.length} (page cache warm)`);
  t = process.hrtime.bigint();
  const recent = await verifySpool({ spool, since: now - 7 * 86_400_000 });
  console.log(`verify --since 7d: ${recent.recordingsChecked} hashed, chain of ${recent.journals} journals in ${seconds(t).toFixed(2)} s`);

  t = process.hrtime.bigint();
  const found = await findSubjectRecordings(spool, policy, { numbers: ['+4930123456'], users: [] }, new HoldSet([]));
  console.log(`subject search (whole spool): ${found.matches.length} of ${RECORDINGS} journals in ${seconds(t).toFixed(2)} s`);

  const holds: Hold[] = Array.from({ length: 200 }, (_, i) => ({
    id: `h${i + 1}`, created: new Date().toISOString(), createdBy: 'bench', reason: 'bench', scope: { number: `+4940${100000 + i * 7}` },
  }));
  await writeFile(join(spool, '.mitschnitt', 'holds.json'), JSON.stringify({ version: 1, holds }));
  t = process.hrtime.bigint();
  const expired = await runExpire({ policy, log: silentLogger, dryRun: true });
  console.log(`expire --dry-run with 200 number holds: ${expired.journalsRead} journals read, ${expired.deleted} would go, ${expired.keptHeld.length} kept by holds, ${seconds(t).toFixed(2)} s`);
} finally {
  await rm(root, { recursive: true, force: true });
}
