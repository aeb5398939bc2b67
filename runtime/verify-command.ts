import { writeFile } from 'node:fs/promises';
import { EXIT, parseFlags, UserError, type Command } from '../bin/cli-support.ts';
import { appendCliAudit } from './cli-audit.ts';
import { parseDateArg } from './date-arg.ts';
import { DEFAULT_CONFIG_DIR, loadPolicy, withSystemErrors } from './delivery-config.ts';
import { verifySpool } from './integrity-verify.ts';
import { createLogger } from './log.ts';
import { requireSpool } from './spool-catalog.ts';
import { renderVerifyReport } from './verify-report.ts';
import { mailVerifyFindings } from './verify-mail.ts';
import { mergeVerifyState, readVerifyState, writeVerifyState } from './verify-state.ts';

/** `--since 7d` (the last 7 days) or a date / ISO time. */
function parseSince(value: string): number {
  const rel = /^([0-9]{1,5})d$/.exec(value);
  if (rel) {
    const now = new Date();
    return new Date(now.getFullYear(), now.getMonth(), now.getDate() - Number(rel[1])).getTime();
  }
  return parseDateArg('--since', value);
}

export const verifyCommand: Command = {
  summary: 'Check that every recording is complete and unaltered: SHA-256 of each file, the journals’ hash chain, missing and extra files.',
  usage:
    'mitschnitt verify [--config DIR] [--since DATE|Nd] [--report FILE] [--mail] [--secrets DIR] [--json]\n' +
    '  --since    hash only the audio of recordings started since then (the hash chain is always checked whole)\n' +
    '  --report   also write the verification report (German/English text) to FILE\n' +
    '  --mail     on a finding, mail the report to settings.adminEmail (cron does this daily)\n' +
    '  --json     print the whole report as JSON instead of log lines\n' +
    'Exit 0: everything verified; 1: findings (missing, altered, unjournaled or extra files, a broken chain) or an error; 2: usage.',
  async run(argv) {
    const { values } = parseFlags(argv, {
      config: { type: 'string', default: DEFAULT_CONFIG_DIR }, since: { type: 'string' }, report: { type: 'string' },
      mail: { type: 'boolean', default: false }, secrets: { type: 'string' }, json: { type: 'boolean', default: false },
    });
    const since = values.since === undefined ? undefined : parseSince(values.since);
    const policy = await loadPolicy(values.config);
    if (values.mail && (!policy.settings.smtp || !policy.settings.adminEmail?.length)) {
      throw new UserError('--mail needs settings.adminEmail and settings.smtp in settings.json (rebuild and deploy)');
    }
    const spool = policy.settings.spool;
    const log = createLogger();
    await requireSpool(spool);
    const report = await withSystemErrors('verify', () => verifySpool({ spool, since }));
    await withSystemErrors('verify', async () => writeVerifyState(spool, mergeVerifyState(await readVerifyState(spool), report)));
    const text = renderVerifyReport(report, policy.host);
    if (values.report) {
      try {
        await writeFile(values.report, text, { flag: 'wx' });
      } catch (err) {
        throw new UserError(`cannot write the report ${values.report}: ${(err as Error).message} (it must not exist yet)`);
      }
    }
    const n = report.findings.length;
    await appendCliAudit(spool, { action: 'verify', result: n === 0 ? 'ok' : 'findings', detail: `checked=${report.recordingsChecked} findings=${n}${report.since ? ` since=${report.since}` : ''}` });
    if (values.json) {
      const { journalHashes: _h, journalPaths: _p, ...rest } = report;
      console.log(JSON.stringify(rest, null, 2));
    } else {
      for (const f of report.findings) log.error('verify finding', { ...f });
    }
    let mailed: string[] = [];
    if (values.mail && n > 0) {
      try {
        mailed = await mailVerifyFindings(policy, text, n, values.secrets);
      } catch (err) {
        log.error('could not mail the verification findings', { error: err });
        if (!values.json) log.info('verify finished', summary());
        return EXIT.invalid;
      }
    }
    if (!values.json) log.info('verify finished', summary());
    return n === 0 ? EXIT.ok : EXIT.invalid;

    function summary() {
      return {
        ok: n === 0, findings: n, recordingsChecked: report.recordingsChecked, verified: report.verified.length, journals: report.journals,
        audioBytes: report.audioBytes, durationMs: report.durationMs, since: report.since, ...(mailed.length ? { mailedTo: mailed } : {}),
      };
    }
  },
};
