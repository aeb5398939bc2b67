// `mitschnitt verify` on journals the runtime wrote: a clean spool passes; a recording deleted by hand, an audio
// file altered, a journal edited by hand, a chain broken in the middle, audio without journal and extra files are
// each named, with exit 1; logged deletions (expire) keep the chain valid; findings are mailed (real SMTP server).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, readFile, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readVerifyState, verifiedDayPath } from '../../runtime/verify-state.ts';
import { startSmtp, writePolicy } from '../delivery/support.ts';
import { cli, daysAgo, jsonLines, makeSpool, wavBytes, type Spool } from './support.ts';

let s: Spool;
test.before.each(async () => {
  s = await makeSpool('mitschnitt-verify-');
});
test.after.each(async () => {
  await rm(s.ws.root, { recursive: true, force: true });
});

const cfg = () => ['--config', s.ws.config];
type Line = { level: string; msg: string; kind?: string; path?: string; id?: string; detail?: string; [k: string]: unknown };
const lines = (out: string) => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
const findings = (out: string) => lines(out).filter((l) => l.msg === 'verify finding').map((l) => [l.kind, l.id ?? l.path]);

async function fiveCalls() {
  const calls = [];
  for (let i = 0; i < 5; i++) calls.push(await s.record({ start: daysAgo(10 - i), caller: '201', callee: `+49301234${i}`, seconds: 1 + i }));
  return calls;
}

test('a spool written by the runtime verifies clean (exit 0); the state marks each recording verified; audit line', async () => {
  const calls = await fiveCalls();
  const r = await cli(['verify', ...cfg()]);
  assert.is(r.code, 0, r.stderr + r.stdout);
  const done = lines(r.stdout).find((l) => l.msg === 'verify finished')!;
  assert.equal([done.ok, done.findings, done.recordingsChecked, done.verified, done.journals], [true, 0, 5, 5, 5]);
  const state = (await readVerifyState(s.ws.spool))!;
  for (const c of calls) assert.is(state.recordings[c.id]!.ok, true);
  // One small file per day folder (what a page of the web client reads), an entry per recording of that day.
  const day = calls[0]!.journal.slice(s.ws.spool.length + 1, s.ws.spool.length + 11);
  const file = JSON.parse(await readFile(verifiedDayPath(s.ws.spool, day), 'utf8'));
  assert.equal(Object.keys(file), [calls[0]!.id]);
  assert.match(file[calls[0]!.id][0], /^[0-9a-f]{64}$/);
  assert.is(file[calls[0]!.id][2], true);
  const audit = await jsonLines<Record<string, string>>(join(s.ws.spool, '.mitschnitt', 'audit.log'));
  assert.equal(audit.map((a) => [a.action, a.result, a.detail]), [['verify', 'ok', 'checked=5 findings=0']]);
});

test('hand-made damage is named: deleted recording, altered audio, edited journal, unjournaled audio, extra files; exit 1', async () => {
  const [a, b, c, d, e] = await fiveCalls();
  assert.is((await cli(['verify', ...cfg()])).code, 0); // the state now knows every journal's hash

  // b: deleted by hand (audio and journal), no deletion-log entry.
  await unlink(b!.audio);
  await unlink(b!.journal);
  // c: a byte of the audio changed (the journal's SHA-256 no longer fits).
  const audio = await readFile(c!.audio);
  audio[100] ^= 0xff;
  await writeFile(c!.audio, audio);
  // d: the journal edited by hand (another caller), kept valid JSON.
  const journal = JSON.parse(await readFile(d!.journal, 'utf8'));
  journal.caller.number = '+4930999999';
  await writeFile(d!.journal, `${JSON.stringify(journal, null, 2)}\n`);
  // An old audio file without a journal, a stray note and a folder that has no business in the spool.
  const orphan = join(dirname(a!.audio), '1700000000.77-1700000000.wav');
  await writeFile(orphan, wavBytes(1));
  await utimes(orphan, daysAgo(3), daysAgo(3));
  await writeFile(join(dirname(a!.audio), 'notes.txt'), 'hello');
  await mkdir(join(s.ws.spool, 'backup-old'));

  const r = await cli(['verify', ...cfg()]);
  assert.is(r.code, 1, r.stderr);
  const got = findings(r.stdout);
  const expect = [
    ['missing-journal', b!.id],
    ['chain-broken', c!.id], // c names b's hash, which is gone
    ['altered-audio', c!.id],
    ['altered-journal', d!.id],
    ['chain-broken', e!.id], // e names d's original hash
    ['unjournaled-audio', '1700000000.77-1700000000'],
  ];
  for (const x of expect) assert.ok(got.some((g) => g[0] === x[0] && g[1] === x[1]), `expected ${x.join(' ')} in ${JSON.stringify(got)}`);
  assert.ok(got.some((g) => g[0] === 'extra-file' && String(g[1]).endsWith('notes.txt')));
  assert.ok(got.some((g) => g[0] === 'extra-file' && g[1] === 'backup-old'));
  const broken = lines(r.stdout).find((l) => l.kind === 'chain-broken' && l.id === e!.id)!;
  assert.match(broken.detail!, new RegExp(`which was ${d!.journal.slice(s.ws.spool.length + 1).replace(/\./g, '\\.')} when first verified`));
  assert.is(lines(r.stdout).find((l) => l.msg === 'verify finished')!.verified, 1, 'only a is still verified');
  const state = (await readVerifyState(s.ws.spool))!;
  assert.is(state.recordings[a!.id]!.ok, true);
  assert.is(state.recordings[c!.id]!.ok, false);
  // The finding repeats on the next run (the state does not forget the deleted recording).
  const again = await cli(['verify', ...cfg()]);
  assert.is(again.code, 1);
  assert.ok(findings(again.stdout).some((g) => g[0] === 'missing-journal' && g[1] === b!.id));
});

test('without any earlier verification, a journal edited in the middle of the chain still breaks it at its successor', async () => {
  const [, b, c] = await fiveCalls();
  const text = await readFile(b!.journal, 'utf8');
  await writeFile(b!.journal, text.replace('"durationSeconds": 2', '"durationSeconds": 20'));
  const r = await cli(['verify', ...cfg()]);
  assert.is(r.code, 1);
  const got = findings(r.stdout);
  assert.equal(got, [['chain-broken', c!.id]]);
  assert.match(lines(r.stdout)[0]!.detail!, /neither on disk nor in the deletion log/);
});

test('deletions by expire are logged: the chain still verifies; --since limits hashing to recent recordings', async () => {
  const old = await s.record({ start: daysAgo(200), caller: '201', callee: '+4930123450', rule: 'support-manual' });
  const mid = await s.record({ start: daysAgo(150), caller: '201', callee: '+4930123451', rule: 'sales-external' });
  const young = await s.record({ start: daysAgo(2), caller: '201', callee: '+4930123452' });
  assert.is((await cli(['expire', ...cfg()])).code, 0);
  let r = await cli(['verify', ...cfg()]);
  assert.is(r.code, 0, r.stdout);
  void old;
  const audio = await readFile(mid.audio);
  audio[50] ^= 1;
  await writeFile(mid.audio, audio);
  r = await cli(['verify', ...cfg(), '--since', '7d']);
  assert.is(r.code, 0, 'the altered old recording is outside --since');
  assert.is(lines(r.stdout).find((l) => l.msg === 'verify finished')!.recordingsChecked, 1);
  r = await cli(['verify', ...cfg()]);
  assert.is(r.code, 1);
  assert.equal(findings(r.stdout), [['altered-audio', mid.id]]);
  void young;
});

test('--report writes the German/English report (never over an existing file); --mail sends it to adminEmail', async () => {
  const smtp = await startSmtp();
  try {
    const [a] = await fiveCalls();
    s.policy.settings.smtp = { host: '127.0.0.1', port: smtp.port, security: 'none', maxAttachmentMB: 20, language: 'de', from: 'mitschnitt@example.com' };
    s.policy.settings.adminEmail = ['datenschutz@example.com'];
    await writePolicy(s.ws.config, s.policy);
    const report = join(s.ws.root, 'report.txt');
    let r = await cli(['verify', ...cfg(), '--report', report, '--mail']);
    assert.is(r.code, 0);
    assert.is(smtp.received.length, 0, 'no finding, no mail');
    assert.match(await readFile(report, 'utf8'), /Alle Aufnahmen vollständig und unverändert[\s\S]*Result: every recording complete and unaltered/);
    r = await cli(['verify', ...cfg(), '--report', report]);
    assert.is(r.code, 1);
    assert.match(r.stderr, /must not exist yet/);

    await unlink(a!.audio);
    r = await cli(['verify', ...cfg(), '--mail']);
    assert.is(r.code, 1);
    assert.is(smtp.received.length, 1);
    const mail = smtp.received[0]!;
    assert.equal(mail.envelopeTo, ['datenschutz@example.com']);
    assert.match(mail.parsed.subject ?? '', /Prüfung ergab 1 Befund/);
    assert.match(mail.parsed.text ?? '', new RegExp(`Audiodatei fehlt / audio file missing: .*${a!.id.replace('.', '\\.')}`));
    assert.equal(lines(r.stdout).find((l) => l.msg === 'verify finished')!.mailedTo, ['datenschutz@example.com']);
  } finally {
    await smtp.close();
  }
});

test('usage errors: exit 2, no stack; --mail without adminEmail: exit 1', async () => {
  for (const args of [['--since', '2026-13-01'], ['--since', 'yesterday'], ['--frobnicate']]) {
    const r = await cli(['verify', ...cfg(), ...args]);
    assert.is(r.code, 2, args.join(' '));
    assert.not.match(r.stderr, /\n\s+at /);
  }
  const r = await cli(['verify', ...cfg(), '--mail']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /--mail needs settings.adminEmail/);
});

test('a missing spool is an error (exit 1), never "all verified"; subject and hold say the same', async () => {
  await rm(s.ws.spool, { recursive: true, force: true });
  for (const args of [['verify'], ['subject', '--number', '+4930123456'], ['hold', 'list']]) {
    const r = await cli([...args, ...cfg()]);
    assert.is(r.code, 1, args.join(' '));
    assert.match(r.stderr, /the spool .* \(settings\.spool\) cannot be read: ENOENT/);
  }
});

test.run();
