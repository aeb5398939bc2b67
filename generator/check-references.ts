import { jsonPointer } from './rule-error.ts';
import type { Place, Report } from './report.ts';
import type { RuleSet } from './rule-set.ts';

/** Ids, extensions and host names are unique; every id a file names exists; teams do not contain themselves. */
export function checkReferences(set: RuleSet, report: Report): void {
  // Users and teams share one id space (members name either) and one number space.
  const memberIds = new Map<string, Place>();
  const numbers = new Map<string, Place>();
  const claimId = (id: string, place: Place, what: string) => {
    const first = memberIds.get(id);
    if (first) report.error({ ...place, path: [...place.path, 'id'] }, `duplicate id "${id}" (${what}); already used in ${first.file} at ${jsonPointer(first.path)}`, 'Users and teams need distinct ids: rename one of them.');
    else memberIds.set(id, place);
  };
  const claimExt = (ext: string | undefined, place: Place) => {
    if (ext === undefined) return;
    const first = numbers.get(ext);
    if (first) report.error({ ...place, path: [...place.path, 'ext'] }, `extension ${ext} is used twice; already used in ${first.file} at ${jsonPointer(first.path)}`, 'Users and teams share one number space: give each its own extension.');
    else numbers.set(ext, place);
  };
  set.users.forEach((u, i) => {
    const place = { file: 'users.json', path: ['users', i] };
    claimId(u.id, place, 'user');
    claimExt(u.ext, place);
  });
  set.teams.forEach((t, i) => {
    const place = { file: 'teams.json', path: ['teams', i] };
    claimId(t.id, place, 'team');
    claimExt(t.ext, place);
  });

  const hostNames = new Set<string>();
  set.hosts.forEach((h, i) => {
    if (hostNames.has(h.name)) report.error({ file: 'hosts.json', path: ['hosts', i, 'name'] }, `duplicate host name "${h.name}"`, 'Each host needs its own name.');
    hostNames.add(h.name);
  });
  const checkHost = (host: string, place: Place) => {
    if (!hostNames.has(host)) report.error(place, `unknown host "${host}"`, `Use one of the hosts in hosts.json: ${[...hostNames].join(', ')}.`);
  };
  set.users.forEach((u, i) => checkHost(u.host, { file: 'users.json', path: ['users', i, 'host'] }));
  set.teams.forEach((t, i) => checkHost(t.host, { file: 'teams.json', path: ['teams', i, 'host'] }));

  const teamIds = new Set(set.teams.map((t) => t.id));
  set.teams.forEach((t, i) =>
    t.members.forEach((m, j) => {
      const place = { file: 'teams.json', path: ['teams', i, 'members', j] };
      if (m === t.id) report.error(place, `team "${t.id}" lists itself as a member`, 'Remove the team from its own members.');
      else if (!memberIds.has(m)) report.error(place, `unknown member "${m}"`, 'Members are ids of users (users.json) or teams (teams.json).');
    }),
  );
  checkTeamCycles(set, teamIds, report);

  const roleIds = new Set<string>();
  set.roles.forEach((r, i) => {
    if (roleIds.has(r.id)) report.error({ file: 'roles.json', path: ['roles', i, 'id'] }, `duplicate role id "${r.id}"`, 'Each role needs its own id.');
    roleIds.add(r.id);
  });
  set.roles.forEach((r, i) => {
    r.members.forEach((m, j) => {
      if (!memberIds.has(m)) report.error({ file: 'roles.json', path: ['roles', i, 'members', j] }, `unknown member "${m}"`, 'Members are ids of users (users.json) or teams (teams.json).');
    });
    r.canView.forEach((v, j) => {
      if (!roleIds.has(v)) report.error({ file: 'roles.json', path: ['roles', i, 'canView', j] }, `unknown role "${v}"`, `canView lists role ids: ${[...roleIds].join(', ')}.`);
    });
  });

  const ruleIds = new Set<string>();
  set.rules.forEach((r, i) => {
    const place = (...path: (string | number)[]) => ({ file: 'rules.json', path: ['rules', i, ...path] });
    if (ruleIds.has(r.id)) report.error(place('id'), `duplicate rule id "${r.id}"`, 'Each rule needs its own id.');
    ruleIds.add(r.id);
    if (!roleIds.has(r.role)) report.error(place('role'), `unknown role "${r.role}"`, `Use a role id from roles.json: ${[...roleIds].join(', ')}.`);
    if (r.deliver?.email && !set.settings.smtp) report.error(place('deliver', 'email'), 'e-mail delivery needs an SMTP server', 'Add "smtp" (host, from) to settings.json.');
  });
}

/** Team nesting must be acyclic: a cycle would make membership infinite. Reports a cycle of each tangle once (DFS, memoised). */
function checkTeamCycles(set: RuleSet, teamIds: Set<string>, report: Report): void {
  const teamMembers = new Map(set.teams.map((t) => [t.id, t.members.filter((m) => teamIds.has(m) && m !== t.id)]));
  const reported = new Set<string>();
  const done = new Set<string>();
  const visit = (id: string, stack: string[]) => {
    const at = stack.indexOf(id);
    if (at >= 0) {
      const cycle = [...stack.slice(at), id];
      const key = [...new Set(cycle)].sort().join(',');
      if (!reported.has(key)) {
        reported.add(key);
        const i = set.teams.findIndex((t) => t.id === id);
        report.error({ file: 'teams.json', path: ['teams', i, 'members'] }, `teams are nested in a cycle: ${cycle.join(' → ')}`, 'A team may contain other teams, but never (indirectly) itself: remove one of these memberships.');
      }
      return;
    }
    if (done.has(id)) return;
    for (const m of teamMembers.get(id) ?? []) visit(m, [...stack, id]);
    done.add(id);
  };
  for (const t of set.teams) visit(t.id, []);
}
