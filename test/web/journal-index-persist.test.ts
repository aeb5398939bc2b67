// The web journal index as an SQLite file across restarts of the service: journals written by the runtime's own
// JournalWriter; a second start reads no journal; changes made while the service was down are found; a deleted,
// damaged or half-built index file is (re)built from the journals with the same answers.
import Database from 'better-sqlite3';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, truncateSync, utimesSync, writeFileSync, writeSync, closeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JournalWriter, type JournalDraft } from '../../runtime/journal.ts';
import { silentLogger, type Logger } from '../../runtime/log.ts';
import { viewerFor } from '../../runtime/web/access.ts';
import { JournalIndex } from '../../runtime/web/journal-index.ts';
import { indexPath, SCHEMA_VERSION } from '../../runtime/web/journal-store.ts';
import { testPolicy, writeRecording } from './support.ts';

const root = mkdtempSync(join(tmpdir(), 'mitschnitt-web-persist-'));
const spool = join(root, 'spool');
mkdirSync(spool);
const policy = testPolicy(spool, join(root, 'secrets'));
const file = indexPath(spool);
const pad = (n: number) => String(n).padStart(2, '0');
const dayOf = (d: Date) => join(spool, String(d.getFullYear()), pad(d.getMonth() + 1), pad(d.getDate()));

const writer = await JournalWriter.open(spool);
let seq = 0;
/** One recording of anna (201) with an external number, journaled by the runtime's writer. */
async function journal(start: Date): Promise<{ id: string; path: string }> {
  const epoch = Math.floor(start.getTime() / 1000);
  const id = `${epoch}.${++seq}-${epoch}`;
  mkdirSync(dayOf(start), { recursive: true });
  writeFileSync(join(dayOf(start), `${id}.wav`), 'RIFF');
  const draft: JournalDraft = {
    version: 1, id, audio: `${id}.wav`, host: 'pbx-test', start: start.toISOString(), end: start.toISOString(), durationSeconds: 1,
    caller: { number: '201', name: 'Anna Berger', userId: 'anna' }, callee: { number: `030${seq}` },
    participants: [{ number: '201', name: 'Anna Berger', userId: 'anna' }, { number: `030${seq}` }], direction: 'outbound',
    origin: 'external', decision: seq % 3 === 0 ? 'manual' : 'auto', rule: 'sales-external', sizeBytes: 4, sha256: '0'.repeat(64),
    channel: 'PJSIP/201-1', uniqueid: `${epoch}.${seq}`, linkedid: `${epoch}.${seq}`, retentionDays: 90,
  };
  const path = join(dayOf(start), `${id}.json`);
  await writer.write(path, draft);
  return { id, path };
}

/** Day folders last changed an hour ago, as on a PBX whose service restarts (not within the same second). */
function settle(): void {
  const past = new Date(Date.now() - 3_600_000);
  for (const y of readdirSync(spool).filter((n) => /^\d{4}$/.test(n)))
    for (const m of readdirSync(join(spool, y))) for (const d of readdirSync(join(spool, y, m))) utimesSync(join(spool, y, m, d), past, past);
}

const days = [new Date(2026, 10, 20, 9), new Date(2026, 10, 21, 9), new Date(2026, 10, 22, 9)];
for (const [i, day] of days.entries()) for (let k = 0; k < 10; k++) await journal(new Date(day.getTime() + (i * 10 + k) * 60_000));
settle();

const anna = viewerFor(policy, 'anna')!;
const eva = viewerFor(policy, 'eva')!;
function everything(index: JournalIndex): string[] {
  const out: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = index.query(anna, {}, 7, cursor);
    out.push(...page.rows.map((r) => r.id));
    if (!page.next) return out;
    cursor = page.next;
  }
}
const manualOf = (index: JournalIndex) => index.query(eva, { decision: 'manual' }, 200).rows.map((r) => r.id);

function capture(): { log: Logger; lines: { level: string; msg: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push({ level, msg, fields });
  return { lines, log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

const removeIndex = () => ['', '-wal', '-shm'].forEach((s) => rmSync(file + s, { force: true }));

let reference: string[] = [];
let referenceManual: string[] = [];

test('first start builds the file next to the spool state; a second start reads no journal (unchanged day folders skipped)', async () => {
  const first = new JournalIndex(spool, silentLogger);
  assert.is(first.file, file);
  // Inside the spool: the only place the systemd unit lets the service write (ReadWritePaths, test/generator/systemd.test.ts).
  assert.ok(file.startsWith(`${spool}/.mitschnitt/`));
  assert.ok(first.fresh);
  const built = await first.scan();
  assert.equal({ added: built.added, removed: built.removed, daysListed: built.daysListed }, { added: 30, removed: 0, daysListed: 3 });
  reference = everything(first);
  referenceManual = manualOf(first);
  assert.is(reference.length, 30);
  assert.is(referenceManual.length, 10);
  first.close();
  assert.ok(existsSync(file));

  const second = new JournalIndex(spool, silentLogger);
  assert.not.ok(second.fresh);
  assert.equal(await second.scan(), { added: 0, removed: 0, daysListed: 0 });
  assert.equal(everything(second), reference);
  second.close();
});

test('journals added and removed while the service was down, and a day folder removed whole, are found at the next start', async () => {
  const added = await journal(new Date(2026, 10, 21, 18));
  const gone = reference[reference.length - 1]; // the oldest: day 1
  const goneDay = dayOf(days[0]);
  rmSync(join(goneDay, `${gone}.json`));
  const vanishedDay = dayOf(days[2]);
  const inVanishedDay = readdirSync(vanishedDay).filter((n) => n.endsWith('.json')).length;
  rmSync(vanishedDay, { recursive: true });

  const index = new JournalIndex(spool, silentLogger);
  const result = await index.scan();
  assert.equal(result, { added: 1, removed: 1 + inVanishedDay, daysListed: 2 });
  assert.ok(index.get(added.id));
  assert.not.ok(index.get(gone));
  const ids = everything(index);
  assert.is(ids.length, 30 + 1 - 1 - inVanishedDay);
  assert.ok(ids.includes(added.id));
  index.close();
  settle();
  const again = new JournalIndex(spool, silentLogger);
  reference = everything(again);
  referenceManual = manualOf(again);
  again.close();
});

test('a deleted index file is rebuilt from the journals, with the same pages', async () => {
  removeIndex();
  const index = new JournalIndex(spool, silentLogger);
  assert.ok(index.fresh);
  await index.scan();
  assert.equal(everything(index), reference);
  assert.equal(manualOf(index), referenceManual);
  index.close();
});

for (const [what, damage] of [
  ['overwritten with garbage', () => writeFileSync(file, Buffer.alloc(64 * 1024, 0x5a))],
  ['header destroyed', () => overwrite(0, Buffer.alloc(100, 0xff))],
  ['truncated', () => truncateSync(file, Math.floor(statSync(file).size / 3))],
] as const) {
  test(`a damaged index file (${what}) is moved aside, logged, and rebuilt from the journals with the same pages`, async () => {
    rmSync(`${file}.damaged`, { force: true });
    damage();
    const { log, lines } = capture();
    const index = new JournalIndex(spool, log);
    await index.scan();
    // A damaged header is found at open; a damaged page further in when it is first used (that request fails).
    try {
      everything(index);
    } catch {
      await index.scan(); // the rebuild that the failure started
    }
    assert.ok(existsSync(`${file}.damaged`));
    assert.ok(lines.some((l) => l.level === 'warn' && /damaged/.test(l.msg)), JSON.stringify(lines));
    assert.equal(everything(index), reference);
    index.close();
  });
}

test('an index file of the previous schema version (as the version before this one left it) is replaced and rebuilt, with the same pages', async () => {
  rmSync(`${file}.damaged`, { force: true });
  const current = new JournalIndex(spool, silentLogger);
  await current.scan();
  current.close();
  const old = new Database(file);
  old.prepare(`UPDATE meta SET value = ? WHERE key = 'schema'`).run(String(SCHEMA_VERSION - 1));
  old.close();
  const { log, lines } = capture();
  const index = new JournalIndex(spool, log);
  assert.ok(index.fresh, 'nothing of the old file is used');
  // Not kept as `.damaged`: a sound file of another layout holds nothing to look into, only disk space.
  assert.not.ok(existsSync(`${file}.damaged`));
  assert.equal(lines, [{ level: 'info', msg: 'web journal index is of another version; rebuilt from the journals', fields: { file, version: String(SCHEMA_VERSION - 1), expected: String(SCHEMA_VERSION) } }]);
  await index.scan();
  assert.equal(everything(index), reference);
  assert.equal(manualOf(index), referenceManual);
  index.close();
});

function overwrite(offset: number, bytes: Buffer): void {
  const fd = openSync(file, 'r+');
  writeSync(fd, bytes, 0, bytes.length, offset);
  closeSync(fd);
}

test('a first build stopped half-way (service stopped) goes on at the next start and ends complete', async () => {
  removeIndex();
  const first = new JournalIndex(spool, silentLogger);
  const running = first.scan();
  first.close(); // the walk stops at its next step
  const partial = await running;
  assert.ok(partial.daysListed < 2, `stopped early: ${JSON.stringify(partial)}`);
  const next = new JournalIndex(spool, silentLogger);
  const rest = await next.scan();
  assert.is(partial.added + rest.added, reference.length);
  assert.equal(everything(next), reference);
  next.close();
});

test('while an index is rebuilt, pages it already holds completely are answered at once, and equal the finished ones', async () => {
  removeIndex();
  const index = new JournalIndex(spool, silentLogger);
  const firstPage = reference.slice(0, 5);
  let answeredEarly = 0;
  let refused = 0;
  let done = false;
  const running = index.scan().then(() => (done = true));
  while (!done) {
    const page = index.queryIfComplete(anna, {}, 5);
    if (page) {
      assert.equal(page.rows.map((r) => r.id), firstPage, 'an early answer is the right one');
      answeredEarly++;
    }
    const whole = index.queryIfComplete(anna, {}, 200);
    if (whole) assert.equal(whole.rows.map((r) => r.id), reference, 'the whole list only once it is all there');
    else refused++;
    await new Promise((resolve) => setImmediate(resolve));
  }
  await running;
  assert.ok(answeredEarly > 0, 'the first page came before the build ended');
  assert.ok(refused > 0, 'the whole list waited for the build');
  assert.equal(index.queryIfComplete(anna, {}, 200)?.rows.map((r) => r.id), reference);
  index.close();
});

test('a state folder that cannot be written: the index lives in memory and still answers', async () => {
  const other = join(root, 'readonly-spool');
  writeRecording(other, {
    id: '1764000000.1-1764000000', start: new Date(2026, 10, 24, 9), seconds: 0.01,
    caller: { number: '201', userId: 'anna' }, callee: { number: '0301' }, direction: 'outbound',
  });
  writeFileSync(join(other, '.mitschnitt'), 'not a folder');
  const { log, lines } = capture();
  const index = new JournalIndex(other, log);
  assert.is(index.file, ':memory:');
  assert.ok(lines.some((l) => l.level === 'warn' && /in memory/.test(l.msg)));
  await index.scan();
  assert.equal(index.query(anna, {}, 10).rows.map((r) => r.id), ['1764000000.1-1764000000']);
  index.close();
});

test.after(() => rmSync(root, { recursive: true, force: true }));
test.run();
