import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { preferredLanguage } from '../../runtime/web/auth-api.ts';
import { hashPassword, verifyPassword } from '../../runtime/web/password-hash.ts';
import { parseRange } from '../../runtime/web/range.ts';
import { FailureLimiter } from '../../runtime/web/rate-limit.ts';
import { downloadName } from '../../runtime/web/recordings-api.ts';
import { audioPathOf, isRecordingId, summarizeJournal } from '../../runtime/web/recording-summary.ts';
import { csrfMatches, SessionStore } from '../../runtime/web/sessions.ts';

test('Range: single byte ranges, suffixes, open ends; unsatisfiable → 416; what we do not serve partially → full', () => {
  assert.equal(parseRange(undefined, 1000), { kind: 'full' });
  assert.equal(parseRange('bytes=0-99', 1000), { kind: 'partial', start: 0, end: 99 });
  assert.equal(parseRange('bytes=-100', 1000), { kind: 'partial', start: 900, end: 999 });
  assert.equal(parseRange('bytes=-5000', 1000), { kind: 'partial', start: 0, end: 999 });
  assert.equal(parseRange('bytes=990-', 1000), { kind: 'partial', start: 990, end: 999 });
  assert.equal(parseRange('bytes=990-5000', 1000), { kind: 'partial', start: 990, end: 999 });
  assert.equal(parseRange('bytes=1000-', 1000), { kind: 'unsatisfiable' });
  assert.equal(parseRange('bytes=1000-1001', 1000), { kind: 'unsatisfiable' });
  assert.equal(parseRange('bytes=-0', 1000), { kind: 'unsatisfiable' });
  assert.equal(parseRange('bytes=0-0', 0), { kind: 'unsatisfiable' });
  for (const ignored of ['bytes=5-1', 'bytes=0-1,5-9', 'items=0-1', 'bytes=-', 'bytes=a-b', 'bytes= 0-1x']) {
    assert.equal(parseRange(ignored, 1000), { kind: 'full' }, ignored);
  }
});

test('login limiter: the 6th attempt within the window is refused, with the seconds until the oldest failure expires', () => {
  let now = 1_000_000;
  const limiter = new FailureLimiter({ maxFailures: 5, windowMs: 300_000, now: () => now });
  for (let i = 0; i < 5; i++) {
    assert.is(limiter.retryAfter('ip:a'), 0);
    limiter.fail('ip:a');
    now += 10_000;
  }
  assert.is(limiter.retryAfter('ip:a'), 250); // the first failure (at 1,000,000) leaves the window at 1,300,000
  assert.is(limiter.retryAfter('ip:b'), 0, 'other keys are not affected');
  now = 1_000_000 + 300_001;
  assert.is(limiter.retryAfter('ip:a'), 0, 'the oldest failure has left the window');
  limiter.fail('ip:a');
  assert.ok(limiter.retryAfter('ip:a') > 0);
  limiter.clear('ip:a');
  assert.is(limiter.retryAfter('ip:a'), 0);
});

test('login limiter memory is bounded: the oldest keys go first', () => {
  const limiter = new FailureLimiter({ maxFailures: 1, maxKeys: 3 });
  for (const k of ['a', 'b', 'c', 'd']) limiter.fail(k);
  assert.is(limiter.retryAfter('a'), 0, 'evicted');
  assert.ok(limiter.retryAfter('d') > 0);
});

test('sessions: idle and absolute expiry, bounded count (least recently used first), constant-time CSRF check', () => {
  let now = 0;
  const store = new SessionStore({ idleMs: 1000, maxAgeMs: 5000, maxSessions: 2, now: () => now });
  const a = store.create('anna');
  assert.match(a.id, /^[A-Za-z0-9_-]{43}$/);
  assert.is.not(a.id, a.csrf);
  for (let i = 0; i < 4; i++) {
    now += 900;
    assert.ok(store.get(a.id), 'use keeps it alive');
  }
  now += 1500;
  assert.is(store.get(a.id), undefined, 'absolute age passed');
  const b = store.create('ben');
  now += 1001;
  assert.not.ok(store.alive(b));
  assert.is(store.get(b.id), undefined, 'idle too long');
  const c = store.create('carla');
  const d = store.create('dora');
  store.get(c.id); // c is now the most recently used
  store.create('eva');
  assert.ok(store.get(c.id));
  assert.is(store.get(d.id), undefined, 'least recently used was dropped');
  assert.ok(csrfMatches(c, c.csrf));
  assert.not.ok(csrfMatches(c, d.csrf));
  assert.not.ok(csrfMatches(c, undefined));
  assert.not.ok(csrfMatches(c, [c.csrf, c.csrf]));
  assert.not.ok(csrfMatches(c, c.csrf.slice(1)));
});

test('password hashes: scrypt, salted, verify only the right password; malformed or missing hashes never match', async () => {
  const h1 = await hashPassword('geheim-123');
  const h2 = await hashPassword('geheim-123');
  assert.is.not(h1, h2, 'random salt');
  assert.ok(await verifyPassword('geheim-123', h1));
  assert.not.ok(await verifyPassword('geheim-124', h1));
  assert.not.ok(await verifyPassword('', h1));
  assert.not.ok(await verifyPassword('geheim-123', undefined));
  assert.not.ok(await verifyPassword('geheim-123', 'plain-text'));
  assert.not.ok(await verifyPassword('geheim-123', h1.replace('ln=15', 'ln=30')), 'absurd cost parameters are refused, not run');
});

const journal = {
  version: 1,
  id: '1764000000.11-1764000000',
  audio: '1764000000.11-1764000000.wav',
  start: '2026-11-24T08:15:00.000Z',
  durationSeconds: 3,
  caller: { number: '201', name: 'Anna', userId: 'anna' },
  callee: { number: '0301234567' },
  participants: [{ number: '201', userId: 'anna' }, { number: '0301234567' }, { number: '205', userId: 'eve' }],
  direction: 'outbound',
  origin: 'external',
  decision: 'auto',
  rule: 'sales-external',
  sizeBytes: 48044,
};
const path = '/spool/2026/11/24/1764000000.11-1764000000.json';

test('journal summaries keep what authorisation needs, and refuse journals that point elsewhere or lack fields', () => {
  const s = summarizeJournal(path, journal)!;
  assert.is(audioPathOf(s), '/spool/2026/11/24/1764000000.11-1764000000.wav');
  assert.equal(s.partyUsers, ['anna', 'eve']);
  assert.equal(s.partyNumbers, ['201', '0301234567', '205']);
  assert.is(s.start, Date.parse('2026-11-24T08:15:00.000Z'));
  const bad: [string, unknown][] = [
    ['id differs from the file name', { ...journal, id: '1764000000.99-1764000000' }],
    ['audio in another folder', { ...journal, audio: '../../etc/passwd' }],
    ['audio of another recording', { ...journal, audio: '1764000001.12-1764000001.wav' }],
    ['audio with a slash', { ...journal, audio: '1764000000.11-1764000000.wav/x' }],
    ['no start', { ...journal, start: 'soon' }],
    ['caller without number', { ...journal, caller: { name: 'x' } }],
    ['unknown decision', { ...journal, decision: 'deny' }],
    ['not an object', 'text'],
  ];
  for (const [why, data] of bad) assert.is(summarizeJournal(path, data), undefined, why);
  const long = summarizeJournal(path, { ...journal, caller: { number: '201', name: 'N'.repeat(10_000), userId: 'anna' } })!;
  assert.is(long.caller.name!.length, 80, 'strings are capped: bounded memory per entry');
});

test('recording ids: the journal base-name alphabet, no dot-only or traversal forms', () => {
  for (const ok of ['1764000000.11-1764000000', 'abc_DEF-1.2']) assert.ok(isRecordingId(ok), ok);
  for (const bad of ['', '.', '..', '../x', 'a/b', 'a\\b', '.hidden', 'a..b', 'a%2fb', 'a b', 'x'.repeat(200)]) assert.not.ok(isRecordingId(bad), bad);
});

test('download names: date, other party, id, only safe characters', () => {
  const s = summarizeJournal(path, { ...journal, start: '2026-11-24T23:30:00.000Z' })!;
  assert.is(downloadName(s, '0301234567', 0), '2026-11-24_0301234567_1764000000-11-1764000000.wav');
  assert.is(downloadName(s, '0301234567', -60), '2026-11-25_0301234567_1764000000-11-1764000000.wav', 'date in the PBX local time zone');
  assert.is(downloadName(s, '"; rm -rf /\r\n', 0), '2026-11-24____rm_-rf_____1764000000-11-1764000000.wav');
  assert.is(downloadName(s, '', 0), '2026-11-24_unknown_1764000000-11-1764000000.wav');
});

test('language: German when the browser prefers it, else English', () => {
  assert.is(preferredLanguage('de-AT,de;q=0.9'), 'de');
  assert.is(preferredLanguage('en-US,de;q=0.5'), 'en');
  assert.is(preferredLanguage('fr-FR,de;q=0.8'), 'de');
  assert.is(preferredLanguage(undefined), 'en');
});

test.run();
