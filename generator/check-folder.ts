import { readdirSync } from 'node:fs';
import { RULE_FILES } from './rule-file-types.ts';
import { printable } from './rule-error.ts';
import type { Report } from './report.ts';
import type { RuleSet } from './rule-set.ts';

const KNOWN: readonly string[] = RULE_FILES.map((f) => f.file);

/** A misspelt optional file ('team.json', 'Settings.json') would be ignored without a word; say so. */
export function checkFolder(set: RuleSet, report: Report): void {
  for (const name of readdirSync(set.dir).sort()) {
    if (!name.toLowerCase().endsWith('.json') || KNOWN.includes(name)) continue;
    const meant = KNOWN.find((k) => k.toLowerCase() === name.toLowerCase() || k.replace(/s\.json$/, '.json') === name.toLowerCase());
    report.warn(
      { file: name, path: [] },
      `${printable(name)} is not a rule file and is ignored`,
      meant ? `Did you mean ${meant}? Rename it.` : `mitschnitt reads only ${KNOWN.join(', ')}; move other files out of the rules folder.`,
    );
  }
}
