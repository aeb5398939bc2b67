import { findNodeAtLocation } from 'jsonc-parser';
import { jsonPointer, positionOf, type RuleError } from './rule-error.ts';
import type { LoadedFile } from './load-rule-files.ts';
import type { RuleSet } from './rule-set.ts';

/** Where a value came from, so a cross-file error can point at it. */
type Place = { file: string; path: (string | number)[] };

/** Cross-file checks that a schema cannot express. `files` holds the parsed, schema-valid files. */
export function checkReferences(set: RuleSet, files: Map<string, LoadedFile>): RuleError[] {
  const errors: RuleError[] = [];
  const at = (place: Place, message: string, hint?: string) => {
    const loaded = files.get(place.file);
    const node = loaded?.tree ? findNodeAtLocation(loaded.tree, place.path) : undefined;
    const pos = loaded && node ? positionOf(loaded.text, node.offset) : { line: 1, column: 1 };
    errors.push({ file: place.file, ...pos, pointer: jsonPointer(place.path), message, hint });
  };

  // Users and teams share one id space (members name either) and one number space.
  const memberIds = new Map<string, Place>();
  const numbers = new Map<string, Place>();
  const claimId = (id: string, place: Place, what: string) => {
    const first = memberIds.get(id);
    if (first) at({ ...place, path: [...place.path, 'id'] }, `duplicate id "${id}" (${what}); already used in ${first.file} at ${jsonPointer(first.path)}`, 'Users and teams need distinct ids.');
    else memberIds.set(id, place);
  };
  const claimExt = (ext: string | undefined, place: Place) => {
    if (ext === undefined) return;
    const first = numbers.get(ext);
    if (first) at({ ...place, path: [...place.path, 'ext'] }, `extension ${ext} is used twice; already used in ${first.file} at ${jsonPointer(first.path)}`, 'Users and teams share one number space: give each its own extension.');
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
    if (hostNames.has(h.name)) at({ file: 'hosts.json', path: ['hosts', i, 'name'] }, `duplicate host name "${h.name}"`, 'Each host needs its own name.');
    hostNames.add(h.name);
  });
  const checkHost = (host: string, place: Place) => {
    if (!hostNames.has(host)) at(place, `unknown host "${host}"`, `Use one of the hosts in hosts.json: ${[...hostNames].join(', ')}.`);
  };
  set.users.forEach((u, i) => checkHost(u.host, { file: 'users.json', path: ['users', i, 'host'] }));
  set.teams.forEach((t, i) => checkHost(t.host, { file: 'teams.json', path: ['teams', i, 'host'] }));

  const macs = new Map<string, string>();
  set.users.forEach((u, i) =>
    u.phones.forEach((p, j) => {
      const mac = p.mac.replace(/[:-]/g, '').toLowerCase();
      const owner = macs.get(mac);
      if (owner) at({ file: 'users.json', path: ['users', i, 'phones', j, 'mac'] }, `MAC ${p.mac} is already ${owner}'s phone`, 'A phone belongs to one user.');
      else macs.set(mac, u.id);
    }),
  );

  const teamIds = new Set(set.teams.map((t) => t.id));
  set.teams.forEach((t, i) =>
    t.members.forEach((m, j) => {
      if (!memberIds.has(m)) at({ file: 'teams.json', path: ['teams', i, 'members', j] }, `unknown member "${m}"`, 'Members are ids of users (users.json) or teams (teams.json).');
      if (m === t.id) at({ file: 'teams.json', path: ['teams', i, 'members', j] }, `team "${t.id}" lists itself as a member`, 'Remove the team from its own members.');
    }),
  );
  // Team nesting must be a tree-like DAG: a cycle would make membership infinite.
  const teamMembers = new Map(set.teams.map((t) => [t.id, t.members.filter((m) => teamIds.has(m))]));
  const reported = new Set<string>();
  const visit = (id: string, stack: string[]) => {
    if (stack.includes(id)) {
      const cycle = [...stack.slice(stack.indexOf(id)), id];
      const key = [...cycle].sort().join(',');
      if (!reported.has(key) && cycle.length > 2) {
        reported.add(key);
        const i = set.teams.findIndex((t) => t.id === id);
        at({ file: 'teams.json', path: ['teams', i, 'members'] }, `teams are nested in a cycle: ${cycle.join(' → ')}`, 'A team may contain other teams, but never (indirectly) itself.');
      }
      return;
    }
    for (const m of teamMembers.get(id) ?? []) visit(m, [...stack, id]);
  };
  for (const t of set.teams) visit(t.id, []);

  const roleIds = new Set<string>();
  set.roles.forEach((r, i) => {
    if (roleIds.has(r.id)) at({ file: 'roles.json', path: ['roles', i, 'id'] }, `duplicate role id "${r.id}"`, 'Each role needs its own id.');
    roleIds.add(r.id);
  });
  set.roles.forEach((r, i) => {
    r.members.forEach((m, j) => {
      if (!memberIds.has(m)) at({ file: 'roles.json', path: ['roles', i, 'members', j] }, `unknown member "${m}"`, 'Members are ids of users (users.json) or teams (teams.json).');
    });
    r.canView.forEach((v, j) => {
      if (!roleIds.has(v)) at({ file: 'roles.json', path: ['roles', i, 'canView', j] }, `unknown role "${v}"`, `canView lists role ids: ${[...roleIds].join(', ')}.`);
    });
  });

  const ruleIds = new Set<string>();
  set.rules.forEach((r, i) => {
    const place = (...path: (string | number)[]) => ({ file: 'rules.json', path: ['rules', i, ...path] });
    if (ruleIds.has(r.id)) at(place('id'), `duplicate rule id "${r.id}"`, 'Each rule needs its own id.');
    ruleIds.add(r.id);
    if (!roleIds.has(r.role)) at(place('role'), `unknown role "${r.role}"`, `Use a role id from roles.json: ${[...roleIds].join(', ')}.`);
    if (r.deliver?.email && !set.settings.smtp) at(place('deliver', 'email'), 'e-mail delivery needs an SMTP server', 'Add "smtp" (host, from) to settings.json.');
  });

  return errors;
}
