// Data-subject requests on journals the runtime wrote: `mitschnitt subject` finds a person as caller, callee or
// participant and in every part of a transferred call; --export writes audio, journals, a report (German and
// English, hostile names escaped) and checksums that the real sha256sum and jq accept; --erase deletes with
// deletion-log entries, keeps held recordings unless told otherwise, and leaves the hash chain verifiable.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { access, readdir, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { enqueueDelivery, finishQueueItem, listQueue } from '../../runtime/delivery-queue.ts';
import { cli, daysAgo, jsonLines, makeSpool, type Spool } from './support.ts';

let s: Spool;
test.before.each(async () => {
  s = await makeSpool('mitschnitt-subject-');
});
test.after.each(async () => {
  await rm(s.ws.root, { recursive: true, force: true });
});

const cfg = () => ['--config', s.ws.config];
const exists = (p: string) => access(p).then(() => true, () => false);
const local = (d: Date) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
const CUSTOMER = '+4930123456';
const EVIL = '<img src=x onerror=alert(1)> & "Müller"';

async function calls() {
  const direct = await s.record({ start: daysAgo(20), caller: '201', callee: CUSTOMER, names: { [CUSTOMER]: EVIL } });
  // A transferred call: Anna takes it, transfers it to Ben; the second part continues the first.
  const part1 = await s.record({ start: daysAgo(15), caller: CUSTOMER, callee: '201' });
  const part2 = await s.record({ start: new Date(daysAgo(15).getTime() + 60_000), caller: CUSTOMER, callee: '201', others: ['202'], previousPart: part1.id });
  // A call where the customer is only a participant (joined later).
  const joined = await s.record({ start: daysAgo(12), caller: '301', callee: '+4940555555', others: [CUSTOMER] });
  const unrelated = await s.record({ start: daysAgo(11), caller: '202', callee: '+4940555555' });
  const old = await s.record({ start: daysAgo(100), caller: CUSTOMER, callee: '202' });
  return { direct, part1, part2, joined, unrelated, old };
}

test('list: every recording with the number (caller, callee, participant), both parts of a transfer, within the period', async () => {
  const c = await calls();
  let r = await cli(['subject', ...cfg(), '--number', '+49 30 123-456', '--json']);
  assert.is(r.code, 0, r.stderr);
  let out = JSON.parse(r.stdout);
  assert.equal(out.recordings.map((x: { id: string }) => x.id).sort(), [c.direct.id, c.part1.id, c.part2.id, c.joined.id, c.old.id].sort());
  const p1 = out.recordings.find((x: { id: string }) => x.id === c.part1.id);
  assert.equal(p1.otherParts, [c.part2.id]);
  assert.equal(out.recordings.find((x: { id: string }) => x.id === c.joined.id).matchedAs, [`participant ${CUSTOMER}`]);

  r = await cli(['subject', ...cfg(), '--number', CUSTOMER, '--since', local(daysAgo(16)), '--until', local(daysAgo(12)), '--json']);
  out = JSON.parse(r.stdout);
  assert.equal(out.recordings.map((x: { id: string }) => x.id).sort(), [c.part1.id, c.part2.id, c.joined.id].sort());

  // Ben (202) by user id: the second part of the transfer (he took over), the unrelated call and the old one.
  r = await cli(['subject', ...cfg(), '--user', 'ben', '--json']);
  out = JSON.parse(r.stdout);
  assert.equal(out.recordings.map((x: { id: string }) => x.id).sort(), [c.part2.id, c.unrelated.id, c.old.id].sort());
  assert.equal(out.recordings.find((x: { id: string }) => x.id === c.part2.id).otherParts, [c.part1.id]);

  r = await cli(['subject', ...cfg(), '--number', CUSTOMER]);
  assert.match(r.stdout, /^5 recording\(s\) of number=\+4930123456$/m);
  const audit = await jsonLines<Record<string, string>>(join(s.ws.spool, '.mitschnitt', 'audit.log'));
  assert.equal(audit.map((a) => [a.action, a.detail]).slice(-1), [['subject-list', 'number=+4930123456 found=5']]);
});

test('export: audio and journals byte for byte, SHA256SUMS and the jq procedure pass with the real tools, German/English report with escaped names', async () => {
  const c = await calls();
  // The direct call was delivered by e-mail before: the report names that copy.
  await enqueueDelivery(s.ws.spool, { id: c.direct.id, audio: c.direct.audio, journal: c.direct.journal, rule: 'sales-external', email: ['archiv@example.com'] });
  const [item] = (await listQueue(s.ws.spool)).flatMap((l) => (l.ok ? [l.item] : []));
  item!.destinations[0]!.done = true;
  await finishQueueItem(s.ws.spool, item!, 'delivered');

  const dir = join(s.ws.root, 'auskunft-4711');
  const r = await cli(['subject', ...cfg(), '--number', CUSTOMER, '--since', local(daysAgo(30)), '--export', dir]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /exported 4 to /);
  const files = (await readdir(join(dir, 'recordings'))).sort();
  assert.is(files.length, 8);
  assert.equal(await readFile(join(dir, 'recordings', `${c.direct.id}.wav`)), await readFile(c.direct.audio));
  assert.equal(await readFile(join(dir, 'recordings', `${c.direct.id}.json`)), await readFile(c.direct.journal));

  const sums = spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dir, encoding: 'utf8' });
  assert.is(sums.status, 0, sums.stdout + sums.stderr);
  assert.is(sums.stdout.trim().split('\n').filter((l) => l.endsWith(': OK')).length, 8);
  const jq = spawnSync('sh', ['-c', `jq -r '.sha256 + "  recordings/" + .audio' recordings/*.json | sha256sum -c`], { cwd: dir, encoding: 'utf8' });
  assert.is(jq.status, 0, jq.stdout + jq.stderr);
  const verify = await readFile(join(dir, 'VERIFY.txt'), 'utf8');
  assert.match(verify, /sha256sum -c SHA256SUMS/);
  assert.match(verify, new RegExp(`${c.direct.id.replace('.', '\\.')}: Audio = Journal \\(SHA-256\\) OK; named as previousHash by the later journal`));
  const chain = await readFile(join(dir, 'CHAIN.txt'), 'utf8');
  assert.match(chain, /the newest journal of the PBX \(chain head\)|named as previousHash/);

  const html = await readFile(join(dir, 'report.html'), 'utf8');
  assert.match(html, /Auskunft \/ Löschung nach DSGVO/);
  assert.match(html, /Data-subject request report/);
  assert.match(html, /4 Aufnahme\(n\) \/ recording\(s\)/);
  assert.not.match(html, /<img src=x/);
  assert.match(html, /&lt;img src=x onerror=alert\(1\)&gt; &amp; &quot;Müller&quot;/);
  assert.match(html, /e-mail archiv@example\.com/);
  assert.match(html, /lie outside the PBX and must be handled separately/);
  assert.match(html, /exportiert \/ exported/);
  assert.ok(await exists(c.direct.audio), 'an export deletes nothing');

  // A second export into the same (now non-empty) folder, or into the spool, is refused.
  let again = await cli(['subject', ...cfg(), '--number', CUSTOMER, '--export', dir]);
  assert.is(again.code, 1);
  assert.match(again.stderr, /is not empty/);
  again = await cli(['subject', ...cfg(), '--number', CUSTOMER, '--export', join(s.ws.spool, 'x')]);
  assert.is(again.code, 1);
  assert.match(again.stderr, /lies inside the spool/);
  await symlink(join(s.ws.spool, '.mitschnitt'), join(s.ws.root, 'innocent-looking'));
  again = await cli(['subject', ...cfg(), '--number', CUSTOMER, '--export', join(s.ws.root, 'innocent-looking', 'new')]);
  assert.is(again.code, 1);
  assert.match(again.stderr, /lies inside the spool/);
  const audit = await jsonLines<Record<string, string>>(join(s.ws.spool, '.mitschnitt', 'audit.log'));
  assert.ok(audit.some((a) => a.action === 'subject-export' && a.detail!.includes('exported=4')));
});

test('an export shows an altered recording and one deleted by hand; sha256sum -c then fails for the altered file', async () => {
  const c = await calls();
  const bytes = await readFile(c.part1.audio);
  bytes[200] ^= 0x55;
  await writeFile(c.part1.audio, bytes);
  await unlink(c.joined.audio);
  const dir = join(s.ws.root, 'export');
  const r = await cli(['subject', ...cfg(), '--number', CUSTOMER, '--export', dir]);
  assert.is(r.code, 0, r.stderr);
  const verify = await readFile(join(dir, 'VERIFY.txt'), 'utf8');
  assert.match(verify, new RegExp(`${c.part1.id.replace('.', '\\.')}: Audio ≠ Journal: VERÄNDERT / ALTERED`));
  assert.match(verify, new RegExp(`${c.joined.id.replace('.', '\\.')}: Audiodatei fehlt / audio missing`));
  const sums = spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dir, encoding: 'utf8' });
  assert.is(sums.status, 1);
  assert.match(sums.stdout, new RegExp(`recordings/${c.part1.id.replace('.', '\\.')}\\.wav: FAILED`));
});

test('erase: logged deletions with reason and who; a held recording is kept unless --include-held; chain still verifies; audit', async () => {
  const c = await calls();
  let r = await cli(['hold', 'add', ...cfg(), '--recording', c.part1.id, '--reason', 'Streitfall 2026-17']);
  assert.is(r.code, 0, r.stderr);
  const reportFile = join(s.ws.root, 'loeschung.html');
  r = await cli(['subject', ...cfg(), '--number', CUSTOMER, '--erase', '--reason', 'Antrag nach Art. 17 vom 28.11.2026', '--report', reportFile]);
  assert.is(r.code, 0, r.stderr);
  // The hold on part 1 holds part 2 of the transferred call too.
  assert.match(r.stdout, /erased 3; kept 2 under legal hold/);
  for (const gone of [c.direct, c.joined, c.old]) {
    assert.not.ok(await exists(gone.audio), gone.id);
    assert.not.ok(await exists(gone.journal), gone.id);
  }
  assert.ok(await exists(c.part1.audio), 'held');
  assert.ok(await exists(c.part2.audio), 'held with part 1');
  assert.ok(await exists(c.unrelated.audio), 'not the person');
  const deletions = await jsonLines<Record<string, unknown>>(join(s.ws.spool, '.mitschnitt', 'deletions.log'));
  assert.equal(deletions.map((d) => d.id).sort(), [c.direct.id, c.joined.id, c.old.id].sort());
  for (const d of deletions) {
    assert.is(d.reason, 'subject-request');
    assert.is(d.note, 'Antrag nach Art. 17 vom 28.11.2026');
    assert.type(d.by, 'string');
    assert.match(String(d.journalSha256), /^[0-9a-f]{64}$/);
  }
  const html = await readFile(reportFile, 'utf8');
  assert.match(html, /gelöscht \/ erased/);
  assert.match(html, /wegen Aufbewahrungssperre behalten \/ kept under legal hold h1/);
  assert.match(html, /Antrag nach Art\. 17 vom 28\.11\.2026/);

  r = await cli(['verify', ...cfg()]);
  assert.is(r.code, 0, `the chain stays verifiable after logged erasures: ${r.stdout}`);

  r = await cli(['subject', ...cfg(), '--number', CUSTOMER, '--erase', '--reason', 'Sperre aufgehoben, Antrag erledigt', '--include-held']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /erased 2; kept 0/);
  assert.not.ok(await exists(c.part1.audio));
  r = await cli(['verify', ...cfg()]);
  assert.is(r.code, 0, r.stdout);

  const audit = await jsonLines<Record<string, string>>(join(s.ws.spool, '.mitschnitt', 'audit.log'));
  const erasures = audit.filter((a) => a.action === 'subject-erase');
  assert.equal(erasures.map((a) => a.detail), ['number=+4930123456 found=5 erased=3 keptHeld=2', 'number=+4930123456 found=2 erased=2 keptHeld=0 include-held']);
  assert.is(erasures[0]!.reason, 'Antrag nach Art. 17 vom 28.11.2026');
});

test('a journal damaged by hand makes the answer incomplete: listed, exit 1', async () => {
  const c = await calls();
  await writeFile(c.joined.journal, '{"id": "broken');
  const r = await cli(['subject', ...cfg(), '--number', CUSTOMER]);
  assert.is(r.code, 1);
  assert.match(r.stdout, /unreadable journal .* \(the answer may be incomplete\)/);
  assert.match(r.stdout, /^4 recording/m);
});

test('hostile or wrong input: exit 2, clear message, nothing deleted', async () => {
  const c = await calls();
  const cases: [string[], RegExp][] = [
    [['--number', '../../etc/passwd'], /is not a phone number/],
    [['--number', '$(reboot)'], /is not a phone number/],
    [['--user', 'ben/../../root'], /is not a user id/],
    [[], /say whose recordings/],
    [['--number', CUSTOMER, '--erase'], /--reason TEXT is required/],
    [['--number', CUSTOMER, '--reason', 'x'], /belong to --erase/],
    [['--number', CUSTOMER, '--since', '2026-02-30'], /not a date that exists/],
    [['--number', CUSTOMER, '--since', '2026-12-01', '--until', '2026-01-01'], /--since must be before --until/],
    [['--number', CUSTOMER, '--erase', '--reason', 'a\u202eb'], /control characters/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(['subject', ...cfg(), ...args]);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.not.match(r.stderr, /\n\s+at /);
  }
  // A huge period is just the whole spool.
  const r = await cli(['subject', ...cfg(), '--number', CUSTOMER, '--since', '1970-01-01', '--until', '9999-12-31']);
  assert.is(r.code, 0);
  assert.match(r.stdout, /^5 recording/m);
  assert.ok(await exists(c.direct.audio));
});

test.run();
