import { BUNDLED_RULES, EXIT, UserError, parseFlags, type Command } from '../bin/cli-support.ts';
import { formatRuleError } from './rule-error.ts';
import { build } from './build.ts';

export const buildCommand: Command = {
  summary: 'Validate the rules and generate every host\'s files (dialplan, policy.json, SNOM, cron, manifest, …) into out/<host>/, atomically.',
  usage: 'mitschnitt build [--rules DIR] [--out DIR] [--json]',
  async run(argv) {
    const { values } = parseFlags(argv, { rules: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' } });
    const rulesDir = values.rules ?? BUNDLED_RULES;
    const outDir = values.out ?? 'out';
    const result = await build({ rulesDir, outDir }).catch((err: unknown) => {
      // The file system saying no (permissions, a file where a folder should be, a full disk) is the user's to fix.
      const code = (err as NodeJS.ErrnoException).code;
      if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) throw new UserError(`cannot write ${outDir}: ${(err as Error).message}; nothing was changed`);
      throw err;
    });
    const label = values.rules ?? 'rules';
    if (!values.json) for (const w of result.warnings) console.error(`warning: ${formatRuleError(w, label)}`);
    if (!result.ok) {
      if (values.json) console.log(JSON.stringify({ built: false, errors: result.errors, warnings: result.warnings }, null, 2));
      else {
        for (const e of result.errors) console.error(formatRuleError(e, label));
        console.error(`${label}: ${result.errors.length} error${result.errors.length === 1 ? '' : 's'}; nothing was written`);
      }
      return EXIT.invalid;
    }
    const s = result.summary;
    if (values.json) {
      console.log(JSON.stringify({ built: true, ...s, warnings: result.warnings }, null, 2));
      return EXIT.ok;
    }
    const source = s.commit ? ` from commit ${s.commit.slice(0, 12)}${s.dirty ? ' (with uncommitted changes)' : ''}` : '';
    console.log(`built ${outDir}${source}: ${s.hosts.length} host${s.hosts.length === 1 ? '' : 's'}, ${s.users} users, ${s.teams} teams, ${s.activeRules} active rules of ${s.rules}, ${s.files} files, ${s.bytes} bytes`);
    for (const h of s.hosts) console.log(`  ${h.host}: ${h.files} files, ${h.bytes} bytes`);
    return EXIT.ok;
  },
};
