import type { Cell, Direction, Origin, Policy, PolicyNumber, PolicyRule, PolicyUser } from './policy.ts';
import { retentionDayBounds } from './retention.ts';
import type { Role, Rule, RuleSet } from './rule-set.ts';

const DIRECTIONS: readonly Direction[] = ['outbound', 'inbound'];
const ORIGINS: readonly Origin[] = ['internal', 'external'];

/** Who a role (or any list of member ids) stands for once teams are opened up. */
interface Flattened {
  users: Set<string>;
  teams: Set<string>;
}

/**
 * Flattens users, teams and roles into the policy of one host. Pure: same rule set, same policy.
 *
 * Precedence per (number, direction, origin) cell, among ACTIVE rules only:
 *   1. a rule with mode `auto` beats one with mode `manual`;
 *   2. among rules of the same mode, the one listed first in rules.json wins.
 * The losing rules are kept in the cell's `others` so `explain` can name them.
 * Only numbers whose home host is `hostName` carry decisions; the company's other numbers are listed with
 * every cell `none`, so origin derivation still knows them as internal.
 */
export function resolvePolicy(ruleSet: RuleSet, hostName: string): Policy {
  const host = ruleSet.hosts.find((h) => h.name === hostName);
  if (!host) throw new Error(`resolvePolicy: unknown host "${hostName}"`);
  const flatten = memberFlattener(ruleSet);
  const roles = new Map(ruleSet.roles.map((r) => [r.id, r]));
  const activeRules = ruleSet.rules.filter((r) => r.active);

  // Extension → candidates per cell, in rules.json order.
  const candidates = new Map<string, Map<string, Rule[]>>();
  const extOf = extensionIndex(ruleSet);
  const roleNumbers = new Map<string, string[]>();
  for (const rule of activeRules) {
    let exts = roleNumbers.get(rule.role);
    if (!exts) roleNumbers.set(rule.role, (exts = numbersOf(flatten(roles.get(rule.role)?.members ?? []), extOf)));
    for (const ext of exts) {
      let cells = candidates.get(ext);
      if (!cells) candidates.set(ext, (cells = new Map()));
      for (const direction of expand(rule.direction, DIRECTIONS)) {
        for (const origin of expand(rule.origin, ORIGINS)) {
          const key = `${direction}/${origin}`;
          const list = cells.get(key);
          if (list) list.push(rule);
          else cells.set(key, [rule]);
        }
      }
    }
  }

  const numbers: Record<string, PolicyNumber> = {};
  const entries = [
    ...ruleSet.users.map((u) => ({ ext: u.ext, kind: 'user' as const, id: u.id, name: u.name, host: u.host })),
    ...ruleSet.teams.flatMap((t) => (t.ext === undefined ? [] : [{ ext: t.ext, kind: 'team' as const, id: t.id, name: t.name, host: t.host }])),
  ].sort((a, b) => compare(a.ext, b.ext));
  for (const { ext, kind, id, name, host: numberHost } of entries) {
    const cells = numberHost === hostName ? candidates.get(ext) : undefined;
    const cell = (direction: Direction, origin: Origin) => decideCell(cells?.get(`${direction}/${origin}`) ?? []);
    numbers[ext] = {
      kind,
      id,
      name,
      host: numberHost,
      outbound: { internal: cell('outbound', 'internal'), external: cell('outbound', 'external') },
      inbound: { internal: cell('inbound', 'internal'), external: cell('inbound', 'external') },
    };
  }

  const rules: Record<string, PolicyRule> = {};
  for (const rule of [...activeRules].sort((a, b) => compare(a.id, b.id))) {
    rules[rule.id] = policyRule(rule, roles.get(rule.role), ruleSet.settings.retentionDays);
  }

  const users: Record<string, PolicyUser> = {};
  const viewable = viewableMembers(ruleSet.roles, flatten);
  const teamExt = new Map(ruleSet.teams.map((t) => [t.id, t.ext]));
  for (const user of [...ruleSet.users].sort((a, b) => compare(a.id, b.id))) {
    const own = numbers[user.ext]!;
    const sees = viewable(user.id);
    const teamExts = [...sees.teams].flatMap((id) => teamExt.get(id) ?? []);
    users[user.id] = {
      id: user.id,
      name: user.name,
      ext: user.ext,
      ...(user.email === undefined ? {} : { email: user.email }),
      host: user.host,
      phones: user.phones.map((p) => ({ mac: p.mac, model: p.model, ...(p.ip === undefined ? {} : { ip: p.ip }) })),
      mayRecordManually: user.host === hostName && [own.outbound, own.inbound].some((d) => d.internal.decision === 'manual' || d.external.decision === 'manual'),
      canViewUsers: [...sees.users].filter((id) => id !== user.id).sort(compare),
      canViewNumbers: [...new Set(teamExts)].sort(compare),
    };
  }

  return { version: 1, host: host.name, settings: ruleSet.settings, numbers, rules, users };
}

/** Plain code-unit order: locale-independent, so the output is the same on every machine. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function decideCell(matching: Rule[]): Cell {
  const winner = matching.find((r) => r.mode === 'auto') ?? matching[0];
  if (!winner) return { decision: 'none' };
  const others = matching.filter((r) => r !== winner).map((r) => r.id);
  return { decision: winner.mode, rule: winner.id, ...(others.length > 0 ? { others } : {}) };
}

function expand<T extends string>(value: T | 'both', all: readonly T[]): readonly T[] {
  return value === 'both' ? all : [value];
}

/** A team stands for its own extension, its users and its nested teams (validate guarantees no cycles). */
function memberFlattener(ruleSet: RuleSet): (ids: string[]) => Flattened {
  const teams = new Map(ruleSet.teams.map((t) => [t.id, t]));
  const users = new Set(ruleSet.users.map((u) => u.id));
  const cache = new Map<string, Flattened>();
  const team = (id: string): Flattened => {
    const cached = cache.get(id);
    if (cached) return cached;
    const result = flattenIds(teams.get(id)!.members);
    result.teams.add(id);
    cache.set(id, result);
    return result;
  };
  const flattenIds = (ids: string[]): Flattened => {
    const result: Flattened = { users: new Set(), teams: new Set() };
    for (const id of ids) {
      if (users.has(id)) result.users.add(id);
      else if (teams.has(id)) {
        const sub = team(id);
        for (const u of sub.users) result.users.add(u);
        for (const t of sub.teams) result.teams.add(t);
      }
    }
    return result;
  };
  return flattenIds;
}

function extensionIndex(ruleSet: RuleSet): (kind: 'user' | 'team', id: string) => string | undefined {
  const users = new Map(ruleSet.users.map((u) => [u.id, u.ext]));
  const teams = new Map(ruleSet.teams.map((t) => [t.id, t.ext]));
  return (kind, id) => (kind === 'user' ? users.get(id) : teams.get(id));
}

function numbersOf(members: Flattened, extOf: ReturnType<typeof extensionIndex>): string[] {
  const exts = [...[...members.users].map((id) => extOf('user', id)), ...[...members.teams].map((id) => extOf('team', id))];
  return exts.filter((e): e is string => e !== undefined);
}

/** Everyone in the roles that a user's roles may view (a user is in a role directly or through a team). */
function viewableMembers(roles: Role[], flatten: (ids: string[]) => Flattened): (userId: string) => Flattened {
  const members = new Map(roles.map((r) => [r.id, flatten(r.members)]));
  const viewedBy = new Map<string, Set<string>>();
  for (const role of roles) {
    if (role.canView.length === 0) continue;
    for (const userId of members.get(role.id)!.users) {
      let viewed = viewedBy.get(userId);
      if (!viewed) viewedBy.set(userId, (viewed = new Set()));
      for (const id of role.canView) viewed.add(id);
    }
  }
  return (userId) => {
    const result: Flattened = { users: new Set(), teams: new Set() };
    for (const id of viewedBy.get(userId) ?? []) {
      const m = members.get(id);
      if (!m) continue;
      for (const u of m.users) result.users.add(u);
      for (const t of m.teams) result.teams.add(t);
    }
    return result;
  };
}

function policyRule(rule: Rule, role: Role | undefined, defaultRetention: number): PolicyRule {
  const deliver: PolicyRule['deliver'] = {};
  if (rule.deliver?.email) deliver.email = [...rule.deliver.email];
  // The deployed copy keeps the rules' layout: scripts/<name> relative to the deployed directory.
  if (rule.deliver?.script) deliver.script = rule.deliver.script;
  return {
    id: rule.id,
    name: rule.name,
    mode: rule.mode,
    role: rule.role,
    ...(role ? { roleName: role.name } : {}),
    direction: rule.direction,
    origin: rule.origin,
    ...(rule.retentionYears === undefined
      ? { retentionDays: rule.retentionDays ?? defaultRetention }
      : { retentionDays: retentionDayBounds({ retentionDays: 0, retentionYears: rule.retentionYears }).max, retentionYears: rule.retentionYears }),
    ...(rule.beep === undefined ? {} : { beep: rule.beep }),
    ...(rule.announcement === undefined ? {} : { announcement: rule.announcement }),
    deliver,
  };
}
