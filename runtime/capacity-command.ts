import { EXIT, UsageError, UserError, parseFlags, type Command } from '../bin/cli-support.ts';
import type { Policy } from '../generator/policy.ts';
import { assessCapacity, assumedLoad, formatBytes, loadFromJournals, measureDisk, type CapacityReport, type Format } from './capacity.ts';
import { DEFAULT_CONFIG_DIR, loadPolicy, withSystemErrors } from './delivery-config.ts';

export const capacityCommand: Command = {
  summary: 'Disk need of the recordings per day and at full retention, against the free space of the spool.',
  usage:
    'mitschnitt capacity [--config DIR] [--days N | --calls-per-day N --minutes-per-call M [--rule ID]] [--min-headroom-days N] [--json]\n' +
    '  --rule ID  assumed calls are kept as that rule keeps them (a rule in years: to the end of the last calendar year)\n' +
    '  Exit 0 when the spool has room, 1 when it will fill up or has less headroom than --min-headroom-days (default 14).',
  async run(argv) {
    const { values } = parseFlags(argv, {
      config: { type: 'string', default: DEFAULT_CONFIG_DIR },
      days: { type: 'string' },
      'calls-per-day': { type: 'string' },
      'minutes-per-call': { type: 'string' },
      rule: { type: 'string' },
      'min-headroom-days': { type: 'string', default: '14' },
      json: { type: 'boolean', default: false },
    });
    const calls = values['calls-per-day'];
    const minutes = values['minutes-per-call'];
    if ((calls === undefined) !== (minutes === undefined)) throw new UsageError('--calls-per-day and --minutes-per-call go together');
    if (calls !== undefined && values.days !== undefined) throw new UsageError('use either --days or assumed figures, not both');
    const minHeadroomDays = number('--min-headroom-days', values['min-headroom-days']);
    if (values.rule !== undefined && calls === undefined) throw new UsageError('--rule goes with --calls-per-day and --minutes-per-call (journals carry their own retention)');

    const policy = await loadPolicy(values.config);
    const load =
      calls !== undefined && minutes !== undefined
        ? assumedLoad(policy, number('--calls-per-day', calls), number('--minutes-per-call', minutes), ruleRetention(policy, values.rule))
        : await loadFromJournals(policy, values.days === undefined ? 30 : wholeDays(values.days), new Date());
    const disk = await withSystemErrors('capacity', () => measureDisk(policy.settings.spool));
    const report = assessCapacity(policy, load, disk, minHeadroomDays);
    if (values.json) console.log(JSON.stringify(report, null, 2));
    else console.log(describe(report));
    for (const w of report.warnings) console.error(`warning: ${w}`);
    return report.warnings.some((w) => !w.startsWith('no recordings')) ? EXIT.invalid : EXIT.ok;
  },
};

/** The longest a rule keeps a recording (for years: up to the end of the last calendar year, the peak on disk). */
function ruleRetention(policy: Policy, rule: string | undefined): number | undefined {
  if (rule === undefined) return undefined;
  if (!Object.hasOwn(policy.rules, rule)) throw new UserError(`no rule ${JSON.stringify(rule.slice(0, 60))} in the policy; rules: ${Object.keys(policy.rules).join(', ')}`);
  return policy.rules[rule]!.retentionDays;
}

function describe(r: CapacityReport): string {
  const basis =
    r.load.source === 'journals'
      ? `${r.load.recordings} recordings in the last ${r.load.days} days`
      : `assumed ${r.load.recordings} calls per day`;
  const row = (format: Format) =>
    `  ${format.padEnd(6)} ${formatBytes(r.need[format].perDayBytes).padStart(10)} per day   ${formatBytes(r.need[format].atFullRetentionBytes).padStart(10)} at full retention${format === r.format ? '   (configured)' : ''}`;
  return [
    `spool ${r.spool}: ${basis}, ${r.load.minutesPerDay.toFixed(1)} recorded minutes per day`,
    ...(r.load.measuredBytesPerDay !== null ? [`  measured: ${formatBytes(r.load.measuredBytesPerDay)} per day`] : []),
    row('wav'),
    row('wav49'),
    `  disk: ${formatBytes(r.disk.freeBytes)} free of ${formatBytes(r.disk.totalBytes)}; recordings use ${formatBytes(r.disk.spoolBytes)}`,
    `  headroom at full retention: ${formatBytes(r.headroomBytes)}${r.headroomDays !== null ? ` (${r.headroomDays.toFixed(0)} days of recording)` : ''}`,
  ].join('\n');
}

function number(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${flag} needs a number ≥ 0, got '${value}'`);
  return n;
}

function wholeDays(value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) < 1 || Number(value) > 3650) throw new UsageError(`--days needs a whole number from 1 to 3650, got '${value}'`);
  return Number(value);
}
