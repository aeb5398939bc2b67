import { resolve } from 'node:path';
import { loadRuleFiles } from './load-rule-files.ts';
import { checkSchemas } from './check-schemas.ts';
import { checkReferences } from './check-references.ts';
import { checkPhones } from './check-phones.ts';
import { checkAddresses } from './check-addresses.ts';
import { checkSchedules } from './check-schedules.ts';
import { checkScripts } from './check-scripts.ts';
import { checkMembership } from './check-membership.ts';
import { checkFolder } from './check-folder.ts';
import { checkRetention } from './check-retention.ts';
import { createReport, type Report } from './report.ts';
import type { RuleError } from './rule-error.ts';
import type { HostsFile, RolesFile, RulesFile, SettingsFile, TeamsFile, UsersFile } from './rule-files.generated.ts';
import type { RuleSet, Settings } from './rule-set.ts';

/** `warnings` never make rules invalid; they are only found once syntax and schemas pass. */
export type Validation =
  | { ok: true; ruleSet: RuleSet; errors: []; warnings: RuleError[] }
  | { ok: false; errors: RuleError[]; warnings: RuleError[] };

/** The checks that need a schema-valid, defaulted rule set; each reads the whole set, so they may look across files. */
const CHECKS: ((set: RuleSet, report: Report) => void)[] = [checkReferences, checkPhones, checkAddresses, checkSchedules, checkScripts, checkMembership, checkFolder, checkRetention];

/** load → JSON syntax → schemas (with defaults) → cross-file checks. The single entry every command uses. */
export function validateRules(dir: string): Validation {
  const loaded = loadRuleFiles(resolve(dir));
  if (loaded.errors.length > 0) return { ok: false, errors: sortErrors(loaded.errors), warnings: [] };
  const schemaErrors = checkSchemas(loaded.files.values());
  if (schemaErrors.length > 0) return { ok: false, errors: sortErrors(schemaErrors), warnings: [] };
  const ruleSet = normalize(loaded.dir, (file) => loaded.files.get(file)?.data);
  const report = createReport(loaded.files);
  for (const check of CHECKS) check(ruleSet, report);
  const warnings = sortErrors(report.warnings);
  if (report.errors.length > 0) return { ok: false, errors: sortErrors(report.errors), warnings };
  return { ok: true, ruleSet, errors: [], warnings };
}

/** Fills what the schema cannot default: a user's or team's home host is the first host. */
function normalize(dir: string, data: (file: string) => unknown): RuleSet {
  const settings = (data('settings.json') ?? emptySettings()) as SettingsFile;
  const hosts = (data('hosts.json') as HostsFile).hosts as RuleSet['hosts'];
  const firstHost = hosts[0]!.name;
  const users = (data('users.json') as UsersFile).users.map((u) => ({ ...u, host: u.host ?? firstHost, phones: u.phones ?? [] }));
  const teams = ((data('teams.json') as TeamsFile | undefined)?.teams ?? []).map((t) => ({ ...t, host: t.host ?? firstHost }));
  const { $schema: _ignored, ...rest } = settings;
  return {
    dir,
    settings: rest as Settings,
    hosts,
    users,
    teams,
    roles: (data('roles.json') as RolesFile).roles as RuleSet['roles'],
    rules: (data('rules.json') as RulesFile).rules as RuleSet['rules'],
  };
}

/** settings.json is optional: an empty object run through the schema gets every default. */
function emptySettings(): SettingsFile {
  const loaded = { file: 'settings.json', text: '{}', tree: undefined, data: {} };
  checkSchemas([loaded]);
  return loaded.data as SettingsFile;
}

function sortErrors(errors: RuleError[]): RuleError[] {
  return [...errors].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
}
