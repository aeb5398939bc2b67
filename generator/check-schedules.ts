import { CronExpressionParser } from 'cron-parser';
import type { Report } from './report.ts';
import type { RuleSet } from './rule-set.ts';

const FIELDS = [
  { name: 'minute', range: '0-59', names: false },
  { name: 'hour', range: '0-23', names: false },
  { name: 'day-of-month', range: '1-31', names: false },
  { name: 'month', range: '1-12, or one name jan-dec', names: true },
  { name: 'day-of-week', range: '0-7 (0 and 7 are Sunday), or one name sun-sat', names: true },
] as const;

// What Debian's cron (cron.d) documents: '*' or a number or a range, a step only after '*' or a range, lists of
// these; a three-letter name only on its own (crontab(5): "Ranges or lists of names are not allowed").
// cron-parser accepts more (L, W, #, ?, H, 6 fields, '5/10'), which cron would reject and so never run the job.
const ITEM = '(?:\\*(?:/[0-9]+)?|[0-9]+-[0-9]+(?:/[0-9]+)?|[0-9]+)';
const FIELD_SYNTAX = new RegExp(`^${ITEM}(?:,${ITEM})*$`);
const NAME = /^[A-Za-z]{3}$/;

/** Why a five-field cron schedule is wrong, naming the field; undefined when cron and cron-parser both accept it. */
export function cronProblem(expression: string): string | undefined {
  const parts = expression.split(' ');
  if (parts.length !== 5) {
    return `has ${parts.length} field${parts.length === 1 ? '' : 's'}; a cron.d schedule has exactly 5 (minute hour day-of-month month day-of-week), no seconds or years`;
  }
  for (const [i, part] of parts.entries()) {
    const field = FIELDS[i]!;
    if (field.names && /[A-Za-z]/.test(part) && !NAME.test(part)) {
      return `${field.name} field "${part}": cron allows a name (like 'mon' or 'jan') only on its own, not in ranges or lists; use numbers (${field.range})`;
    }
    if (!FIELD_SYNTAX.test(part) && !(field.names && NAME.test(part))) {
      return `${field.name} field "${part}" is not cron syntax: use numbers (${field.range}), '*', ranges 'a-b', steps '*/n' or 'a-b/n', and lists 'x,y'`;
    }
    // Parse the field alone (others '*'), so cron-parser's range errors can be pinned on it.
    const alone = parts.map((p, j) => (j === i ? p : '*')).join(' ');
    try {
      CronExpressionParser.parse(alone);
    } catch (err) {
      return `${field.name} field "${part}" is invalid (${(err as Error).message}); allowed: ${field.range}`;
    }
  }
  try {
    CronExpressionParser.parse(expression).next();
  } catch (err) {
    return `never runs: day-of-month "${parts[2]}" does not occur in month "${parts[3]}" (${(err as Error).message})`;
  }
  return undefined;
}

export function checkSchedules(set: RuleSet, report: Report): void {
  for (const key of ['deliverySchedule', 'retentionSchedule', 'verifySchedule'] as const) {
    const expression = set.settings[key];
    if (expression === undefined) continue;
    const place = { file: 'settings.json', path: [key] };
    const problem = cronProblem(expression);
    if (problem) {
      report.error(place, `${key} "${expression}" ${problem}`, "Write five fields like '0 20 * * *' (daily at 20:00) or '*/30 7-18 * * 1-5' (every 30 minutes on weekdays 7-18).");
      continue;
    }
    const [, , dom, , dow] = expression.split(' ');
    if (dom !== '*' && dow !== '*') {
      report.warn(place, `${key} "${expression}" restricts both day-of-month and day-of-week: cron runs it on days matching EITHER`, "If you meant 'both', restrict only one of the two fields.");
    }
  }
}
