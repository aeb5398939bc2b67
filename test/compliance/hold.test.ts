// Legal holds on real journals: `mitschnitt hold add|list|release` through the real command line, `expire` keeping
// held recordings (and saying so), hostile input refused with exit 2, and every change in the audit log.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { verifyChain } from '../../runtime/journal-verify.ts';
import { holdsPath } from '../../runtime/legal-hold.ts';
import { writePolicy } from '../delivery/support.ts';
import { cli, daysAgo, jsonLines, makeSpool, type Spool } from './support.ts';

let s: Spool;
test.before.each(async () => {
  s = await makeSpool('mitschnitt-hold-');
});
test.after.each(async () => {
  await rm(s.ws.root, { recursive: true, force: true });
});

const exists = (p: string) => access(p).then(() => true, () => false);
const cfg = () => ['--config', s.ws.config];
const local = (d: Date) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;

test('hold add/list/release; expire keeps held recordings past retention, logs why, deletes the rest; audit has every change', async () => {
  // Four expired recordings (support rule: 90 days) and one young one.
  const customer = await s.record({ start: daysAgo(120), caller: '201', callee: '+4930123456', rule: 'support-manual' });
  const other = await s.record({ start: daysAgo(121), caller: '202', callee: '+4940999999', rule: 'support-manual' });
  const byId = await s.record({ start: daysAgo(130), caller: '301', callee: '+4989111111', rule: 'support-manual' });
  const bensCall = await s.record({ start: daysAgo(140), caller: '+4989222222', callee: '600', others: ['202'], rule: 'support-manual' });
  const outside = await s.record({ start: daysAgo(160), caller: '+4930123456', callee: '202', rule: 'support-manual' });

  const from = local(daysAgo(125));
  const to = local(daysAgo(115));
  let r = await cli(['hold', 'add', ...cfg(), '--number', '+49 30 123456', '--from', from, '--to', to, '--reason', 'Rechtsstreit Az. 12 O 345/26']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /hold h1 added: number \+4930123456, started .* it covers 1 recording\(s\) now/);
  r = await cli(['hold', 'add', ...cfg(), '--recording', byId.id, '--reason', 'Beschwerde Kunde 4711', '--json']);
  assert.is(r.code, 0, r.stderr);
  assert.is(JSON.parse(r.stdout).covers, 1);
  // ben is in bensCall only as a participant (the team number was called; he answered).
  r = await cli(['hold', 'add', ...cfg(), '--user', 'ben', '--from', local(daysAgo(145)), '--to', local(daysAgo(135)), '--reason', 'Arbeitsgericht']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /covers 1 recording/);

  r = await cli(['hold', 'list', ...cfg(), '--json', '--recordings']);
  const listed = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(listed.map((h) => [h.id, h.active, h.covers]), [['h1', true, 1], ['h2', true, 1], ['h3', true, 1]]);
  assert.equal(listed.map((h) => h.recordings.map((p: string) => p.split('/').pop())), [[customer.id], [byId.id], [bensCall.id]]);

  r = await cli(['expire', ...cfg()]);
  assert.is(r.code, 0, r.stderr);
  const log = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const kept = log.filter((l) => l.msg === 'expired but kept: legal hold');
  assert.equal(kept.map((l) => [l.id, l.holds]).sort(), [[customer.id, ['h1']], [byId.id, ['h2']], [bensCall.id, ['h3']]].sort());
  assert.is(log.find((l) => l.msg === 'expire finished').keptHeld, 3);
  for (const held of [customer, byId, bensCall]) assert.ok(await exists(held.audio), `${held.id} is held`);
  for (const gone of [other, outside]) assert.not.ok(await exists(gone.audio), `${gone.id} expired`);
  let deletions = await jsonLines<{ id: string }>(join(s.ws.spool, '.mitschnitt', 'deletions.log'));
  assert.equal(deletions.map((d) => d.id).sort(), [other.id, outside.id].sort());

  // Release h1 (with a reason): the next expire deletes that recording, with its deletion logged.
  r = await cli(['hold', 'release', 'h1', ...cfg(), '--reason', 'Vergleich geschlossen']);
  assert.is(r.code, 0, r.stderr);
  r = await cli(['hold', 'release', 'h1', ...cfg(), '--reason', 'again']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /already released/);
  r = await cli(['expire', ...cfg()]);
  assert.is(r.code, 0, r.stderr);
  assert.not.ok(await exists(customer.audio));
  assert.ok(await exists(byId.audio));
  deletions = await jsonLines<{ id: string }>(join(s.ws.spool, '.mitschnitt', 'deletions.log'));
  assert.ok(deletions.some((d) => d.id === customer.id));
  assert.ok((await verifyChain(s.ws.spool)).ok, 'the hash chain stays checkable across the deletions');

  r = await cli(['hold', 'list', ...cfg()]);
  assert.not.match(r.stdout, /^h1 /m);
  r = await cli(['hold', 'list', ...cfg(), '--all']);
  assert.match(r.stdout, /h1 {2}released .* "Vergleich geschlossen"/);

  const audit = await jsonLines<Record<string, string>>(join(s.ws.spool, '.mitschnitt', 'audit.log'));
  assert.equal(audit.map((a) => [a.action, a.hold, a.ip, a.result]), [
    ['hold-add', 'h1', 'local', 'ok'], ['hold-add', 'h2', 'local', 'ok'], ['hold-add', 'h3', 'local', 'ok'], ['hold-release', 'h1', 'local', 'ok'],
  ]);
  assert.is(audit[0]!.reason, 'Rechtsstreit Az. 12 O 345/26');
  assert.is(audit[1]!.recording, byId.id);
  assert.ok(audit.every((a) => typeof a.user === 'string' && a.user.length > 0));
  r = await cli(['audit', ...cfg()]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /hold-release\s+hold=h1 .* reason="Vergleich geschlossen"/);
});

test('holds live in the spool: a redeploy (new config folder) keeps them; an ended hold (--until passed) no longer keeps', async () => {
  const rec = await s.record({ start: daysAgo(100), caller: '301', callee: '+4989111111', rule: 'support-manual' });
  let r = await cli(['hold', 'add', ...cfg(), '--recording', rec.id, '--reason', 'Prüfung']);
  assert.is(r.code, 0, r.stderr);
  const redeployed = join(s.ws.root, 'release-2');
  await mkdir(redeployed);
  await writePolicy(redeployed, s.policy);
  r = await cli(['hold', 'list', '--config', redeployed, '--json']);
  assert.is(JSON.parse(r.stdout).id, 'h1');
  r = await cli(['expire', '--config', redeployed]);
  assert.ok(await exists(rec.audio));
  // A hold whose end date passed: written as it would be after that date.
  const file = JSON.parse(await (await import('node:fs/promises')).readFile(holdsPath(s.ws.spool), 'utf8'));
  file.holds[0].until = new Date(Date.now() - 1000).toISOString();
  await writeFile(holdsPath(s.ws.spool), JSON.stringify(file));
  r = await cli(['expire', '--config', redeployed]);
  assert.is(r.code, 0, r.stderr);
  assert.not.ok(await exists(rec.audio));
});

test('hostile or wrong input: exit 2 with a clear message, no stack trace, nothing written', async () => {
  const cases: [string[], RegExp][] = [
    [['hold', 'add', '--recording', '../../../etc/passwd', '--reason', 'x'], /is not a recording id/],
    [['hold', 'add', '--recording', '1.2-3/../../x', '--reason', 'x'], /is not a recording id/],
    [['hold', 'add', '--number', '201'], /--reason TEXT is required/],
    [['hold', 'add', '--number', '201', '--reason', 'line\nbreak'], /control characters/],
    [['hold', 'add', '--number', '201; rm -rf /', '--reason', 'x'], /is not a phone number/],
    [['hold', 'add', '--user', '../root', '--reason', 'x'], /is not a user id/],
    [['hold', 'add', '--from', '2026-02-31', '--reason', 'x'], /not a date that exists/],
    [['hold', 'add', '--from', '+275760-09-13', '--reason', 'x'], /needs a date/],
    [['hold', 'add', '--from', '2026-12-01', '--to', '2026-01-01', '--reason', 'x'], /--from must be before --to/],
    [['hold', 'add', '--reason', 'nothing'], /say what to hold/],
    [['hold', 'add', '--number', '201', '--reason', 'x', '--until', '2020-01-01'], /--until lies in the past/],
    [['hold', 'release', '../h1', '--reason', 'x'], /is not a hold id/],
    [['hold', 'frobnicate'], /unknown subcommand/],
  ];
  for (const [args, message] of cases) {
    const r = await cli([...args, ...cfg()]);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.not.ok(await exists(holdsPath(s.ws.spool)));
  const r = await cli(['hold', 'release', 'h9', ...cfg(), '--reason', 'x']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /no hold h9/);
});

test('a huge date range is a hold on everything in it, and costs one walk of the folders that exist', async () => {
  const a = await s.record({ start: daysAgo(200), caller: '201', callee: '+4930123456', rule: 'support-manual' });
  const t0 = Date.now();
  const r = await cli(['hold', 'add', ...cfg(), '--from', '1970-01-01', '--to', '9999-12-31', '--reason', 'Behördenanfrage: alles aufbewahren']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /covers 1 recording/);
  assert.ok(Date.now() - t0 < 10_000);
  await cli(['expire', ...cfg()]);
  assert.ok(await exists(a.audio));
});

test('a damaged holds file stops expire before anything is deleted (exit 1, says which file)', async () => {
  const a = await s.record({ start: daysAgo(200), caller: '201', callee: '+4930123456', rule: 'support-manual' });
  await mkdir(join(s.ws.spool, '.mitschnitt'), { recursive: true });
  await writeFile(holdsPath(s.ws.spool), '{"version":1,"holds":[{"id":"h1",');
  const r = await cli(['expire', ...cfg()]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /legal holds file .*holds\.json is damaged/);
  assert.ok(await exists(a.audio));
  assert.is((await jsonLines(join(s.ws.spool, '.mitschnitt', 'deletions.log'))).length, 0);
});

test('a hold on one part of a transferred call holds every part; a hold on a recording that does not exist is refused', async () => {
  const part1 = await s.record({ start: daysAgo(120), caller: '+4930123456', callee: '201', rule: 'support-manual' });
  const part2 = await s.record({ start: new Date(daysAgo(120).getTime() + 90_000), caller: '+4930123456', callee: '201', others: ['202'], previousPart: part1.id, rule: 'support-manual' });
  const other = await s.record({ start: daysAgo(120, 11), caller: '301', callee: '+4989111111', rule: 'support-manual' });
  let r = await cli(['hold', 'add', ...cfg(), '--recording', part2.id, '--reason', 'Beschwerde']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`recording ${part2.id.replace('.', '\\.')} with the other parts of its call ${part1.id.replace('.', '\\.')}; it covers 2 recording`));
  r = await cli(['expire', ...cfg()]);
  assert.is(r.code, 0, r.stderr);
  assert.ok(await exists(part1.audio));
  assert.ok(await exists(part2.audio));
  assert.not.ok(await exists(other.audio));
  r = await cli(['hold', 'add', ...cfg(), '--recording', '1700000000.1-1700000000', '--reason', 'x']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /no journaled recording 1700000000\.1-1700000000/);
});

test('an audit log that cannot be written: the hold is added, the command says so and exits 1 (no stack trace)', async () => {
  await mkdir(join(s.ws.spool, '.mitschnitt', 'audit.log'), { recursive: true }); // a folder where the file should be
  const r = await cli(['hold', 'add', ...cfg(), '--number', '201', '--reason', 'Prüfung']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /hold-add was done, but the audit log .*audit\.log could not be written/);
  assert.not.match(r.stderr, /\n\s+at /);
  assert.ok(await exists(holdsPath(s.ws.spool)));
});

test.run();
