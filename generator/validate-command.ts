import { BUNDLED_RULES, EXIT, parseFlags, type Command } from '../bin/cli-support.ts';
import { validateRules } from './validate.ts';
import { formatRuleError } from './rule-error.ts';

export const validateCommand: Command = {
  summary: 'Check the rule files: JSON syntax, schemas, references between files, phones, addresses, schedules and scripts.',
  usage: 'mitschnitt validate [--rules DIR] [--json]',
  async run(argv) {
    const { values } = parseFlags(argv, { rules: { type: 'string' }, json: { type: 'boolean' } });
    const dir = values.rules ?? BUNDLED_RULES;
    const result = validateRules(dir);
    if (values.json) {
      console.log(JSON.stringify({ valid: result.ok, errors: result.errors, warnings: result.warnings }, null, 2));
      return result.ok ? EXIT.ok : EXIT.invalid;
    }
    const label = values.rules ?? 'rules';
    for (const w of result.warnings) console.error(`warning: ${formatRuleError(w, label)}`);
    if (result.ok) {
      const s = result.ruleSet;
      const warned = result.warnings.length ? ` (${plural(result.warnings.length, 'warning')})` : '';
      console.log(`${label}: valid${warned} — ${s.users.length} users, ${s.teams.length} teams, ${s.roles.length} roles, ${s.rules.length} rules, ${s.hosts.length} hosts`);
      return EXIT.ok;
    }
    for (const e of result.errors) console.error(formatRuleError(e, label));
    console.error(`${label}: ${plural(result.errors.length, 'error')}`);
    return EXIT.invalid;
  },
};

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
