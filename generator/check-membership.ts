import type { Report } from './report.ts';
import type { RuleSet } from './rule-set.ts';

/** Ids of the users a member id stands for, through nested teams (cycle-safe; cycles are reported elsewhere). */
export function expandMembers(set: RuleSet, ids: readonly string[]): Set<string> {
  const users = new Set(set.users.map((u) => u.id));
  const teams = new Map(set.teams.map((t) => [t.id, t.members]));
  const found = new Set<string>();
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id)) return;
    seen.add(id);
    if (users.has(id)) found.add(id);
    for (const m of teams.get(id) ?? []) visit(m);
  };
  ids.forEach(visit);
  return found;
}

/**
 * Empty groups are warnings, not errors: an empty role or a rule that records nobody is harmless (nothing is
 * recorded that no rule asks for) and is a normal state while people join and leave — but often a mistake.
 */
export function checkMembership(set: RuleSet, report: Report): void {
  set.teams.forEach((t, i) => {
    if (t.members.length === 0) report.warn({ file: 'teams.json', path: ['teams', i, 'members'] }, `team "${t.id}" has no members`, 'Add user or team ids, or remove the team.');
  });
  set.roles.forEach((r, i) => {
    if (r.members.length === 0) report.warn({ file: 'roles.json', path: ['roles', i, 'members'] }, `role "${r.id}" has no members`, 'Add user or team ids, or remove the role.');
  });
  const roles = new Map(set.roles.map((r) => [r.id, r]));
  set.rules.forEach((rule, i) => {
    const role = roles.get(rule.role);
    if (!rule.active || !role) return;
    if (expandMembers(set, role.members).size === 0) {
      report.warn({ file: 'rules.json', path: ['rules', i, 'role'] }, `rule "${rule.id}" records nobody: role "${role.id}" contains no users`, 'Add users to the role (directly or through its teams), or set "active": false.');
    }
  });
}
