import { resolve } from 'node:path';
import { loadRuleFiles } from './load-rule-files.ts';
import { checkSchemas } from './check-schemas.ts';
import { checkReferences } from './check-references.ts';
import type { RuleError } from './rule-error.ts';
import type { HostsFile, RolesFile, RulesFile, SettingsFile, TeamsFile, UsersFile } from './rule-files.generated.ts';
import type { RuleSet, Settings } from './rule-set.ts';

export type Validation = { ok: true; ruleSet: RuleSet; errors: [] } | { ok: false; errors: RuleError[] };

/** load → JSON syntax → schemas (with defaults) → cross-file checks. The single entry every command uses. */
export function validateRules(dir: string): Validation {
  const loaded = loadRuleFiles(resolve(dir));
  if (loaded.errors.length > 0) return { ok: false, errors: sortErrors(loaded.errors) };
  const schemaErrors = checkSchemas(loaded.files.values());
  if (schemaErrors.length > 0) return { ok: false, errors: sortErrors(schemaErrors) };
  const ruleSet = normalize(loaded.dir, (file) => loaded.files.get(file)?.data);
  const refErrors = checkReferences(ruleSet, loaded.files);
  if (refErrors.length > 0) return { ok: false, errors: sortErrors(refErrors) };
  return { ok: true, ruleSet, errors: [] };
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
