// Long retention: rules kept in years (counted from the end of the calendar year, as § 257 HGB / § 147 AO count),
// through validate (errors and "only copy" warnings), the journal the runtime writes, expire, capacity and explain.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { access, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeRetention, retentionDayBounds, retentionDaysFrom, retentionEnd } from '../../generator/retention.ts';
import { assessCapacity, loadFromJournals } from '../../runtime/capacity.ts';
import { runExpire } from '../../runtime/expire.ts';
import { mailView, renderMail } from '../../runtime/deliver-email.ts';
import { memoryLogger } from '../delivery/support.ts';
import { cli, makeSpool } from './support.ts';

test('years count from the end of the calendar year of the call; the journal’s day count never ends earlier', () => {
  const start = new Date(2026, 2, 3, 14, 30);
  assert.equal(retentionEnd(start, { retentionDays: 0, retentionYears: 10 }), new Date(2037, 0, 1));
  assert.equal(retentionEnd(new Date(2026, 11, 31, 23, 59), { retentionDays: 0, retentionYears: 6 }), new Date(2033, 0, 1));
  const days = retentionDaysFrom(start, { retentionDays: 0, retentionYears: 10 });
  assert.ok(start.getTime() + days * 86_400_000 >= new Date(2037, 0, 1).getTime());
  assert.ok(start.getTime() + (days - 1) * 86_400_000 < new Date(2037, 0, 1).getTime());
  assert.is(retentionDaysFrom(start, { retentionDays: 90 }), 90);
  const b = retentionDayBounds({ retentionDays: 0, retentionYears: 10 });
  assert.ok(b.min <= days && days <= b.max);
  assert.is(describeRetention({ retentionDays: 0, retentionYears: 10 }), '10 years from the end of the calendar year of the call');
});

function rulesDir(edit: (rules: { rules: Record<string, unknown>[] }) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'mitschnitt-retention-rules-'));
  cpSync('rules', dir, { recursive: true });
  const rules = JSON.parse(readFileSync(join(dir, 'rules.json'), 'utf8'));
  edit(rules);
  writeFileSync(join(dir, 'rules.json'), JSON.stringify(rules, null, 2));
  return dir;
}

test('validate: years up to 10; not both days and years; warns when a long-kept rule has no second copy or only e-mail', async () => {
  const dirs: string[] = [];
  try {
    const years = (n: number, deliver?: object) => rulesDir((r) => {
      delete r.rules[0]!.retentionDays;
      r.rules[0]!.retentionYears = n;
      if (deliver === undefined) delete r.rules[0]!.deliver;
      else r.rules[0]!.deliver = deliver;
    });
    let dir = years(10);
    dirs.push(dir);
    let r = await cli(['validate', '--rules', dir, '--json']);
    assert.is(r.code, 0, r.stdout + r.stderr);
    let out = JSON.parse(r.stdout);
    assert.ok(out.warnings.some((w: { message: string }) => /keeps recordings 10 years, but only on the PBX: its spool disk is the only copy/.test(w.message)), r.stdout);

    dir = years(6, { email: ['vertragsarchiv@muster-gmbh.example'] });
    dirs.push(dir);
    out = JSON.parse((await cli(['validate', '--rules', dir, '--json'])).stdout);
    assert.ok(out.warnings.some((w: { message: string }) => /its only other copy is e-mail, which does not attach recordings above 20 MB/.test(w.message)), JSON.stringify(out.warnings));

    dir = years(10, { email: ['vertragsarchiv@muster-gmbh.example'], script: 'scripts/archive-to-dms.sh' });
    dirs.push(dir);
    out = JSON.parse((await cli(['validate', '--rules', dir, '--json'])).stdout);
    assert.not.ok(out.warnings.some((w: { message: string }) => /only/.test(w.message)), 'an archive script is a second copy');
    r = await cli(['build', '--rules', dir, '--out', join(dir, 'out')]);
    assert.is(r.code, 0, r.stderr);
    const policy = JSON.parse(readFileSync(join(dir, 'out', 'pbx-berlin', 'policy.json'), 'utf8'));
    assert.equal([policy.rules['sales-external'].retentionYears, policy.rules['sales-external'].retentionDays], [10, 11 * 366]);
    r = await cli(['explain', '--rules', dir, '--from', '201', '--to', '030123456']);
    assert.match(r.stdout, /kept 10 years from the end of the calendar year of the call/);

    dir = years(11);
    dirs.push(dir);
    r = await cli(['validate', '--rules', dir]);
    assert.is(r.code, 1);
    assert.match(r.stdout + r.stderr, /retentionYears/);

    dir = rulesDir(() => {});
    dirs.push(dir);
    const settings = JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8'));
    delete settings.smtp;
    settings.adminEmail = ['it@muster-gmbh.example'];
    writeFileSync(join(dir, 'settings.json'), JSON.stringify(settings));
    r = await cli(['validate', '--rules', dir, '--json']);
    assert.is(r.code, 1);
    assert.ok(JSON.parse(r.stdout).errors.some((e: { pointer: string; message: string }) => e.pointer === '/adminEmail' && /needs an SMTP server/.test(e.message)), r.stdout);

    dir = rulesDir((rr) => (rr.rules[0]!.retentionYears = 6));
    dirs.push(dir);
    r = await cli(['validate', '--rules', dir]);
    assert.is(r.code, 1);
    assert.match(r.stdout + r.stderr, /retentionDays and retentionYears both given/);
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});

test('the runtime journals a 10-year rule with its exact days; expire keeps it until 1 January of the 11th year; capacity weighs it', async () => {
  const s = await makeSpool('mitschnitt-retention-', [
    { id: 'contracts', name: 'Verträge', mode: 'auto', retentionDays: 11 * 366, retentionYears: 10, deliver: { script: 'scripts/archive.sh' } },
    { id: 'support-manual', name: 'Support', mode: 'manual', retentionDays: 90, deliver: {} },
  ]);
  try {
    const start = new Date(2026, 2, 3, 14, 30);
    const rec = await s.record({ start, caller: '201', callee: '+4930123456', rule: 'contracts', seconds: 60 });
    assert.is(rec.data.retentionYears, 10);
    assert.is(rec.data.retentionDays, retentionDaysFrom(start, { retentionDays: 0, retentionYears: 10 }));
    const short = await s.record({ start, caller: '301', callee: '+4930999999', rule: 'support-manual', seconds: 60 });

    const { log } = memoryLogger();
    // The delivery queue holds the contract (script): mark it delivered so only retention decides.
    await rm(join(s.ws.spool, '.mitschnitt', 'queue'), { recursive: true, force: true });
    let summary = await runExpire({ policy: s.policy, log, now: new Date(2036, 11, 31, 23, 0) });
    assert.is(summary.deleted, 1, 'only the 90-day recording');
    assert.ok(await access(rec.audio).then(() => true, () => false));
    assert.not.ok(await access(short.audio).then(() => true, () => false));
    summary = await runExpire({ policy: s.policy, log, now: new Date(2037, 0, 2, 4, 0) });
    assert.is(summary.deleted, 1);
    assert.not.ok(await access(rec.audio).then(() => true, () => false));
  } finally {
    await rm(s.ws.root, { recursive: true, force: true });
  }
});

test('the delivery mail of a 10-year recording names the years and the day it goes (German and English); a days rule keeps its sentence', async () => {
  const s = await makeSpool('mitschnitt-retention-mail-', [
    { id: 'contracts', name: 'Verträge', mode: 'auto', retentionDays: 11 * 366, retentionYears: 10, deliver: {} },
    { id: 'support-manual', name: 'Support', mode: 'manual', retentionDays: 90, deliver: {} },
  ]);
  try {
    const long = await s.record({ start: new Date(2026, 2, 3, 14, 30), caller: '201', callee: '+4930123456', rule: 'contracts' });
    const short = await s.record({ start: new Date(2026, 2, 3, 15, 30), caller: '301', callee: '+4930123456', rule: 'support-manual' });
    const text = (journal: typeof long.data, language: 'de' | 'en') => {
      const policy = { ...s.policy, settings: { ...s.policy.settings, smtp: { host: 'x', port: 25, security: 'none' as const, maxAttachmentMB: 20, language, from: 'a@example.com' } } };
      return renderMail(language, mailView(journal, policy, long.audio, 100, true)).text;
    };
    assert.match(text(long.data, 'de'), /Die Aufnahme wird 10 Jahre ab Ende des Kalenderjahres aufbewahrt und ab dem 1\. Januar 2037 gelöscht\./);
    assert.match(text(long.data, 'en'), /kept 10 years from the end of the calendar year and deleted from 1 January 2037\./);
    assert.match(text(short.data, 'de'), /Die Aufnahme wird nach 90 Tagen gelöscht\./);
  } finally {
    await rm(s.ws.root, { recursive: true, force: true });
  }
});

test('capacity: a day of 10-year recordings needs about 10 years of that day at full retention', async () => {
  const s = await makeSpool('mitschnitt-capacity-years-', [
    { id: 'contracts', name: 'Verträge', mode: 'auto', retentionDays: 11 * 366, retentionYears: 10, deliver: {} },
  ]);
  try {
    const now = new Date();
    const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1, 10);
    for (let i = 0; i < 3; i++) await s.record({ start: new Date(yesterday.getTime() + i * 60_000), caller: '201', callee: '+4930123456', rule: 'contracts', seconds: 60 });
    const load = await loadFromJournals(s.policy, 1, now);
    assert.is(load.recordings, 3);
    // 3 minutes a day: 2.9 MB per day; kept ten years that is about 10.6 GB, more than 8 GiB free.
    const disk = { freeBytes: 8 * 2 ** 30, totalBytes: 200 * 2 ** 30, spoolBytes: 0 };
    const report = assessCapacity(s.policy, load, disk, 14);
    const ratio = report.need.wav.atFullRetentionBytes / report.need.wav.perDayBytes;
    assert.ok(ratio > 3650 && ratio < 4020, `about ten years of days, got ${ratio}`);
    assert.ok(report.warnings.some((w) => /the spool filesystem is too small/.test(w)), report.warnings.join('; '));
    const ninetyDays = assessCapacity(s.policy, { ...load, retainedMinutes: load.minutesPerDay * 90 }, disk, 14);
    assert.equal(ninetyDays.warnings, [], 'the same calls kept 90 days fit');

    // Planning before any journal exists: assumed calls kept as the 10-year rule keeps them (its peak: 11 × 366 days).
    const r = await cli(['capacity', '--config', s.ws.config, '--calls-per-day', '100', '--minutes-per-call', '3', '--rule', 'contracts', '--json']);
    assert.ok(r.code === 0 || r.code === 1, r.stderr);
    assert.is(JSON.parse(r.stdout).load.retainedMinutes, 300 * 11 * 366);
    const unknown = await cli(['capacity', '--config', s.ws.config, '--calls-per-day', '1', '--minutes-per-call', '1', '--rule', 'nope']);
    assert.is(unknown.code, 1);
    assert.match(unknown.stderr, /no rule "nope" in the policy/);
    assert.is((await cli(['capacity', '--config', s.ws.config, '--rule', 'contracts'])).code, 2);
  } finally {
    await rm(s.ws.root, { recursive: true, force: true });
  }
});

test.run();
