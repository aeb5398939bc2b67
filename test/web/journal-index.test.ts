// The index answers pages by merging per-party lists; here it is checked against the obvious definition
// (filter every journal with canView and the filters, sort newest first) on a random spool.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { silentLogger } from '../../runtime/log.ts';
import { canView, viewerFor } from '../../runtime/web/access.ts';
import { JournalIndex, toRow, type JournalFilter } from '../../runtime/web/journal-index.ts';
import { testPolicy, writeRecording, type Party } from './support.ts';
import { prng } from '../support/prng.ts';


const spool = mkdtempSync(join(tmpdir(), 'mitschnitt-web-index-'));
const policy = testPolicy(spool, join(spool, 'secrets'));
const rand = prng(11);
const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
const internal: Party[] = [
  { number: '201', name: 'Anna Berger', userId: 'anna' },
  { number: '202', name: 'Ben Schulz', userId: 'ben' },
  { number: '301', name: 'Carla Nowak', userId: 'carla' },
  { number: '401', name: 'Eva Klein', userId: 'eva' },
  { number: '300', name: 'Kundendienst' },
  { number: '201' }, // a recovered journal: number only
];
const external = (): Party => ({ number: `030${Math.floor(rand() * 1e7)}` });
const ids: string[] = [];
for (let i = 0; i < 400; i++) {
  // Many recordings share a start second: paging must still be stable and complete.
  const start = new Date(2026, 10, 1 + Math.floor(rand() * 20), 8 + Math.floor(rand() * 3), 0, 0);
  const epoch = start.getTime() / 1000;
  const a = pick(internal);
  const b = rand() < 0.3 ? pick(internal) : external();
  const outbound = rand() < 0.5;
  const id = `${epoch}.${i}-${epoch}`;
  ids.push(id);
  const decision = pick(['auto', 'auto', 'force', 'manual'] as const);
  const rule = pick(['sales-external', 'support-manual', null]);
  writeRecording(spool, { id, start, seconds: 0.01, caller: outbound ? a : b, callee: outbound ? b : a, direction: outbound ? 'outbound' : 'inbound', decision, rule });
}
let built = 0;
/** A new index file each time: built from the journals alone. */
async function freshIndex(): Promise<JournalIndex> {
  const index = new JournalIndex(spool, silentLogger, { file: join(spool, '.mitschnitt', `index-${++built}.sqlite`) });
  await index.scan();
  return index;
}

function expected(index: JournalIndex, userId: string, filter: JournalFilter): string[] {
  const viewer = viewerFor(policy, userId)!;
  return ids
    .map((id) => index.get(id)!)
    .filter((s) => canView(viewer, s))
    .filter((s) => (filter.from === undefined || s.start >= filter.from) && (filter.to === undefined || s.start < filter.to))
    .filter((s) => !filter.direction || toRow(viewer, s).direction === filter.direction)
    .filter((s) => !filter.number || [s.caller, s.callee].some((p) => p.number.includes(filter.number!) || p.name?.toLowerCase().includes(filter.number!)))
    .filter((s) => !filter.decision || s.decision === filter.decision)
    .filter((s) => filter.rule === undefined || s.rule === filter.rule)
    .filter((s) => !filter.participant || s.partyUsers.some((u) => filter.participant!.users.includes(u)) || s.partyNumbers.some((n) => filter.participant!.numbers.includes(n)))
    .sort((a, b) => b.start - a.start || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
    .map((s) => s.id);
}

function paged(index: JournalIndex, userId: string, filter: JournalFilter, limit: number): string[] {
  const viewer = viewerFor(policy, userId)!;
  const out: string[] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 1000; guard++) {
    const page = index.query(viewer, filter, limit, cursor);
    out.push(...page.rows.map((r) => r.id));
    if (!page.next) return out;
    assert.is(page.rows.length, limit, 'only the last page is short');
    cursor = page.next;
  }
  throw new Error('paging did not end');
}

test('every user, every filter (date, number part of any length, direction, REC/manual, rule, participant), every page size: the merged pages equal filtering everything', async () => {
  const index = await freshIndex();
  assert.is(index.size, 400);
  const filters: JournalFilter[] = [
    {},
    { direction: 'inbound' },
    { direction: 'outbound', number: '030' },
    { number: 'kundendienst' },
    { number: '30' }, // under 3 characters: walks the lists instead of the trigram index
    { number: '7' },
    { number: 'la', decision: 'manual' }, // letters share bits of the number-part filter: false hits are dropped
    { number: '01', to: new Date(2026, 10, 10, 9).getTime() }, // `to` is the start of several recordings
    { from: new Date(2026, 10, 5).getTime(), to: new Date(2026, 10, 12).getTime() },
    { from: new Date(2026, 10, 8, 9).getTime(), direction: 'outbound' },
    { decision: 'manual' },
    { decision: 'manual', from: new Date(2026, 10, 4).getTime(), to: new Date(2026, 10, 14, 10).getTime() },
    { decision: 'manual', rule: 'support-manual', direction: 'outbound' },
    { decision: 'force', direction: 'inbound' },
    { rule: 'support-manual' },
    { rule: 'sales-external', number: '030', to: new Date(2026, 10, 15).getTime() },
    { participant: { users: ['anna'], numbers: ['201'] } },
    { participant: { users: ['carla'], numbers: ['301'] }, decision: 'auto' },
    { participant: { users: [], numbers: ['300'] } },
  ];
  for (const user of ['anna', 'ben', 'carla', 'eva', 'frank']) {
    for (const filter of filters) {
      const want = expected(index, user, filter);
      for (const limit of [1, 7, 50, 200]) assert.equal(paged(index, user, filter, limit), want, `${user} ${JSON.stringify(filter)} limit ${limit}`);
    }
  }
  assert.ok(expected(index, 'eva', {}).length > expected(index, 'anna', {}).length, 'eva sees anna and ben');
  assert.ok(expected(index, 'frank', {}).length > 0, 'frank sees team 300');
  assert.ok(expected(index, 'eva', { participant: { users: ['anna'], numbers: ['201'] } }).length > 0, 'eva finds anna\'s calls');
  index.close();
});

test('adding and removing single journals keeps every list in order', async () => {
  const index = await freshIndex();
  const removed = ids.filter((_, i) => i % 3 === 0);
  for (const id of removed) index.remove(id);
  const kept = ids.filter((_, i) => i % 3 !== 0);
  for (const user of ['anna', 'eva', 'frank']) {
    const all = paged(index, user, {}, 13);
    assert.not.ok(all.some((id) => removed.includes(id)));
  }
  for (const id of removed) {
    const [y, m, d] = ((s) => [s.getFullYear(), s.getMonth() + 1, s.getDate()])(new Date(Number(id.split('-')[1]) * 1000));
    await index.add(join(spool, String(y), String(m).padStart(2, '0'), String(d).padStart(2, '0'), `${id}.json`));
  }
  assert.is(index.size, removed.length + kept.length);
  const fresh = await freshIndex();
  for (const user of ['anna', 'ben', 'eva', 'frank']) assert.equal(paged(index, user, {}, 9), paged(fresh, user, {}, 9), user);
});

test('a malformed journal is reported once, not on every scan of its folder; once it is gone, a journal of that name is read again', async () => {
  const own = mkdtempSync(join(tmpdir(), 'mitschnitt-web-index-malformed-'));
  const start = new Date(2026, 10, 3, 9);
  const good = writeRecording(own, { id: '1764000000.1-1764000000', start, seconds: 0.01, caller: internal[0], callee: external(), direction: 'outbound' });
  const bad = join(dirname(good.journal), '1764000001.2-1764000001.json');
  writeFileSync(bad, '{"id": "1764000001.2-1764000001"}');
  const warnings: string[] = [];
  const log = { ...silentLogger, warn: (msg: string) => void warnings.push(msg) };
  const index = new JournalIndex(own, log, { file: join(own, 'index.sqlite') });
  let touched = 0;
  const touch = () => utimesSync(dirname(good.journal), new Date(), new Date(Date.now() + 60_000 * ++touched));
  assert.is((await index.scan()).added, 1);
  touch();
  assert.equal(await index.scan(), { added: 0, removed: 0, daysListed: 1 });
  assert.equal(warnings, ['journal malformed, not shown']);
  rmSync(bad);
  touch();
  await index.scan();
  const again = writeRecording(own, { id: '1764000001.2-1764000001', start, seconds: 0.01, caller: internal[0], callee: external(), direction: 'inbound' });
  touch();
  assert.is((await index.scan()).added, 1);
  assert.ok(index.get('1764000001.2-1764000001'), again.journal);
  index.close();
  rmSync(own, { recursive: true, force: true });
});

test.after(() => rmSync(spool, { recursive: true, force: true }));
test.run();
