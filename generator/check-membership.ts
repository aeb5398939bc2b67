import type { Report } from './report.ts';
import type { RuleSet } from './rule-set.ts';

/** Whether a member id stands for at least one user, through nested teams; memoised. Terminates on team cycles (whose answer may then be short, but a cycle is an error of its own). */
function userFinder(set: RuleSet): (id: string) => boolean {
  const users = new Set(set.users.map((u) => u.id));
  const teams = new Map(set.teams.map((t) => [t.id, t.members]));
  const known = new Map<string, boolean>();
  const reaches = (id: string): boolean => {
    if (users.has(id)) return true;
    const cached = known.get(id);
    if (cached !== undefined) return cached;
    known.set(id, false); // while visiting: a cycle back here adds no users
    const found = (teams.get(id) ?? []).some(reaches);
    known.set(id, found);
    return found;
  };
  return reaches;
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
  const hasUsers = userFinder(set);
  const roles = new Map(set.roles.map((r) => [r.id, r]));
  set.rules.forEach((rule, i) => {
    const role = roles.get(rule.role);
    if (!rule.active || !role) return;
    if (!role.members.some(hasUsers)) {
      report.warn({ file: 'rules.json', path: ['rules', i, 'role'] }, `rule "${rule.id}" records nobody: role "${role.id}" contains no users`, 'Add users to the role (directly or through its teams), or set "active": false.');
    }
  });
}
