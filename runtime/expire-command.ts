import { EXIT, UsageError, parseFlags, type Command } from '../bin/cli-support.ts';
import { DEFAULT_CONFIG_DIR, loadPolicy, withSystemErrors } from './delivery-config.ts';
import { runExpire } from './expire.ts';
import { createLogger } from './log.ts';

export const expireCommand: Command = {
  summary: 'Delete recordings older than their retention period, with a deletion log (run by cron).',
  usage: 'mitschnitt expire [--config DIR] [--dry-run] [--now ISO-8601] [--verbose]',
  async run(argv) {
    const { values } = parseFlags(argv, {
      config: { type: 'string', default: DEFAULT_CONFIG_DIR },
      'dry-run': { type: 'boolean', default: false },
      now: { type: 'string' },
      verbose: { type: 'boolean', default: false },
    });
    const dryRun = values['dry-run'];
    let now: Date | undefined;
    if (values.now !== undefined) {
      now = new Date(values.now);
      if (!/^\d{4}-\d{2}-\d{2}/.test(values.now) || Number.isNaN(now.getTime())) {
        throw new UsageError(`--now needs an ISO-8601 time such as 2026-11-25T03:30:00Z, got '${values.now}'`);
      }
      // A future --now would delete recordings before their time: allowed only to look (dry run).
      if (now.getTime() > Date.now() && !dryRun) {
        throw new UsageError('--now in the future deletes recordings early; use it only with --dry-run');
      }
    }
    const policy = await loadPolicy(values.config);
    const log = createLogger({ verbose: values.verbose });
    const summary = await withSystemErrors('expire', () => runExpire({ policy, log, dryRun, now }));
    return summary.problems.length > 0 ? EXIT.invalid : EXIT.ok;
  },
};
