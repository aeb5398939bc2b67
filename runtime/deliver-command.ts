import { EXIT, UsageError, UserError, parseFlags, type Command } from '../bin/cli-support.ts';
import { runDeliveryBatch } from './deliver-batch.ts';
import { DEFAULT_CONFIG_DIR, loadPolicy, withSystemErrors } from './delivery-config.ts';
import { requeueDead } from './delivery-queue.ts';
import { createLogger } from './log.ts';

export const deliverCommand: Command = {
  summary: 'Send queued recordings by e-mail or to delivery scripts (run by cron).',
  usage:
    'mitschnitt deliver [--config DIR] [--secrets DIR] [--dry-run] [--limit N] [--verbose]\n' +
    '       mitschnitt deliver --requeue-dead [ID...] [--config DIR]   (dead letters back into the queue, attempts reset)',
  async run(argv) {
    const { values, positionals } = parseFlags(
      argv,
      {
        config: { type: 'string', default: DEFAULT_CONFIG_DIR },
        secrets: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        limit: { type: 'string' },
        'requeue-dead': { type: 'boolean', default: false },
        verbose: { type: 'boolean', default: false },
      },
      true,
    );
    if (positionals.length > 0 && !values['requeue-dead']) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const limit = values.limit === undefined ? undefined : positiveInteger('--limit', values.limit);
    const policy = await loadPolicy(values.config);
    const log = createLogger({ verbose: values.verbose });
    if (values['requeue-dead']) {
      const requeued = await requeueDead(policy.settings.spool, positionals);
      const missing = positionals.filter((id) => !requeued.includes(id));
      log.info('dead letters requeued; the next delivery run retries them', { requeued });
      if (missing.length > 0) throw new UserError(`not in the dead-letter folder: ${missing.join(', ')}`);
      return EXIT.ok;
    }
    const summary = await withSystemErrors('delivery', () =>
      runDeliveryBatch({ policy, log, secretsDir: values.secrets, dryRun: values['dry-run'], limit }),
    );
    // Cron mails a failing job's output to the admin: failures and dead letters must not exit 0.
    return summary.failed > 0 || summary.dead > 0 || summary.deferred > 0 ? EXIT.invalid : EXIT.ok;
  },
};

export function positiveInteger(flag: string, value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) < 1) throw new UsageError(`${flag} needs a positive whole number, got '${value}'`);
  return Number(value);
}
