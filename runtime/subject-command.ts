import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT, parseFlags, UsageError, UserError, type Command } from '../bin/cli-support.ts';
import { appendCliAudit, operator } from './cli-audit.ts';
import { parseRangeArgs } from './date-arg.ts';
import { DEFAULT_CONFIG_DIR, loadPolicy, withSystemErrors } from './delivery-config.ts';
import { checkedNumber, checkedReason, checkedUser } from './hold-command.ts';
import { HoldSet } from './legal-hold.ts';
import { eraseRecordings, type ErasureOutcome } from './subject-erase.ts';
import { exportRecordings, prepareExportDir, type ExportedRecording } from './subject-export.ts';
import { renderSubjectReport } from './subject-report.ts';
import { describeQuery, findSubjectRecordings } from './subject-request.ts';
import { requireSpool } from './spool-catalog.ts';

const USAGE =
  'mitschnitt subject (--number N | --user ID)... [--since DATE] [--until DATE] [--export DIR] [--erase --reason TEXT [--include-held]] [--report FILE] [--json] [--config DIR]\n' +
  '  lists every recording the person took part in (caller, callee or any participant, every part of a transferred call)\n' +
  '  --number N      a number of the person as the PBX saw it (repeat for each form: +4930123456, 030123456)\n' +
  '  --user ID       a user of users.json (their user id and extension)\n' +
  '  --since/--until only recordings started in this period (a date-only --until includes that day)\n' +
  '  --export DIR    writes audio, journals, SHA256SUMS, CHAIN.txt, VERIFY.txt and report.html (German/English) into DIR (new or empty)\n' +
  '  --erase         deletes the recordings, each logged in the deletion log first; needs --reason; recordings under a\n' +
  '                  legal hold are kept unless --include-held\n' +
  '  --report FILE   writes the HTML report there too (e.g. for an erasure without export)\n' +
  'Exit 0 done; 1 the answer may be incomplete (unreadable journals) or a file could not be erased; 2 usage.';

export const subjectCommand: Command = {
  summary: 'Data-subject requests (GDPR Art. 15/17): list, export or erase every recording of a person, with a report.',
  usage: USAGE,
  async run(argv) {
    const { values } = parseFlags(argv, {
      config: { type: 'string', default: DEFAULT_CONFIG_DIR },
      number: { type: 'string', multiple: true, default: [] }, user: { type: 'string', multiple: true, default: [] },
      since: { type: 'string' }, until: { type: 'string' }, export: { type: 'string' }, erase: { type: 'boolean', default: false },
      reason: { type: 'string' }, 'include-held': { type: 'boolean', default: false }, report: { type: 'string' }, json: { type: 'boolean', default: false },
    });
    const policy = await loadPolicy(values.config);
    const numbers = [...new Set(values.number.map((n) => checkedNumber(n)))];
    const users = [...new Set(values.user.map((u) => checkedUser(u)))];
    if (numbers.length + users.length === 0) throw new UsageError('say whose recordings: --number N and/or --user ID');
    const range = parseRangeArgs('--since', values.since, '--until', values.until);
    if (!values.erase && (values.reason !== undefined || values['include-held'])) throw new UsageError('--reason and --include-held belong to --erase');
    const reason = values.erase ? checkedReason(values.reason) : '';
    const spool = policy.settings.spool;
    const by = operator();
    const query = { numbers, users, ...range };
    await requireSpool(spool);
    const holds = await withSystemErrors('subject', () => HoldSet.load(spool, policy));
    const result = await withSystemErrors('subject', () => findSubjectRecordings(spool, policy, query, holds));
    const detail = `${describeQuery(query)} found=${result.matches.length}`;

    let exported: { dir: string; recordings: ExportedRecording[] } | undefined;
    if (values.export !== undefined) {
      const dir = await prepareExportDir(values.export, spool);
      const recordings = await withSystemErrors('subject export', () => exportRecordings(dir, spool, result.matches));
      exported = { dir, recordings };
      await appendCliAudit(spool, { action: 'subject-export', detail: `${detail} exported=${recordings.length} to=${dir}`, result: 'ok' });
    }
    let erasure: (ErasureOutcome & { reason: string; includeHeld: boolean }) | undefined;
    if (values.erase) {
      const outcome = await withSystemErrors('subject erase', () => eraseRecordings(spool, result.matches, { reason, by, includeHeld: values['include-held'] }));
      erasure = { ...outcome, reason, includeHeld: values['include-held'] };
      await appendCliAudit(spool, {
        action: 'subject-erase', reason,
        detail: `${detail} erased=${outcome.erased.length} keptHeld=${outcome.keptHeld.length}${values['include-held'] ? ' include-held' : ''}`,
        result: outcome.problems.length ? 'error' : 'ok',
      });
    }
    if (!exported && !erasure) await appendCliAudit(spool, { action: 'subject-list', detail, result: 'ok' });

    const html = renderSubjectReport({ host: policy.host, createdAt: new Date(), by, result, range, exported, erasure });
    if (exported) await writeFile(join(exported.dir, 'report.html'), html, { mode: 0o600 });
    if (values.report !== undefined) {
      try {
        await writeFile(values.report, html, { flag: 'wx', mode: 0o600 });
      } catch (err) {
        throw new UserError(`cannot write the report ${values.report}: ${(err as Error).message} (it must not exist yet)`);
      }
    }

    if (values.json) {
      console.log(JSON.stringify({
        query, recordings: result.matches.map((m) => ({ id: m.id, start: m.journal.start, durationSeconds: m.journal.durationSeconds, journal: m.journalRel, audio: m.audioRel, matchedAs: m.matchedAs, otherParts: m.otherParts, holds: m.holds, deliveredTo: m.deliveredTo })),
        unreadable: result.unreadable, unjournaled: result.unjournaled,
        ...(exported ? { exported: exported.recordings } : {}), ...(erasure ? { erased: erasure.erased, keptHeld: erasure.keptHeld, problems: erasure.problems } : {}),
      }, null, 2));
    } else {
      console.log(`${result.matches.length} recording(s) of ${describeQuery(query)}`);
      for (const m of result.matches) {
        const extra = [m.otherParts.length ? `other parts ${m.otherParts.join(',')}` : '', m.holds.length ? `legal hold ${m.holds.join(',')}` : '', m.deliveredTo.length ? `copies: ${m.deliveredTo.join('; ')}` : ''].filter(Boolean).join('  ');
        console.log(`  ${m.journal.start}  ${String(m.journal.durationSeconds).padStart(5)} s  ${m.id}  ${m.matchedAs.join('; ')}${extra ? `  ${extra}` : ''}`);
      }
      for (const u of result.unreadable) console.log(`  unreadable journal ${u.path}: ${u.error} (the answer may be incomplete)`);
      if (result.unjournaled.length) console.log(`  ${result.unjournaled.length} audio file(s) without a journal in the period (parties unknown)`);
      if (exported) console.log(`exported ${exported.recordings.length} to ${exported.dir} (report.html, VERIFY.txt)`);
      if (erasure) {
        console.log(`erased ${erasure.erased.length}; kept ${erasure.keptHeld.length} under legal hold${erasure.keptHeld.length ? ` (${erasure.keptHeld.map((k) => `${k.id}: ${k.holds.join(',')}`).join('; ')}; --include-held erases them too)` : ''}`);
        for (const p of erasure.problems) console.log(`  could not delete ${p.path}: ${p.error}`);
      }
    }
    return result.unreadable.length > 0 || (erasure?.problems.length ?? 0) > 0 ? EXIT.invalid : EXIT.ok;
  },
};
