// resolve + decide against an oracle that reads the rule files directly, for 200 random companies.
// The oracle walks upwards (which roles and teams contain this user?) and over the rules in order for
// every single call, where resolve flattens downwards into a table once: two shapes of the same semantics.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolvePolicy } from '../../generator/resolve-policy.ts';
import { decide } from '../../generator/decide.ts';
import type { RuleSet, Rule } from '../../generator/rule-set.ts';
import { ruleSetOf, TWO_HOSTS } from '../fixtures/build/rule-files.ts';
import { prng } from '../support/prng.ts';


function randomCompany(seed: number): RuleSet {
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(items: readonly T[]) => items[int(items.length)]!;
  const some = <T>(items: readonly T[], max: number) => [...new Set(Array.from({ length: 1 + int(max) }, () => pick(items)))];
  const hosts = TWO_HOSTS.map((h) => h.name);
  const users = Array.from({ length: 2 + int(7) }, (_, i) => ({ id: `u${i}`, name: `U${i}`, ext: String(200 + i), host: pick(hosts) }));
  const teams: { id: string; name: string; ext?: string; host: string; members: string[] }[] = [];
  for (let i = int(5); i > 0; i--) {
    const n = teams.length;
    // Members: users and earlier teams only, so nesting never forms a cycle.
    const pool = [...users.map((u) => u.id), ...teams.map((t) => t.id)];
    teams.push({ id: `t${n}`, name: `T${n}`, ...(rand() < 0.7 ? { ext: String(600 + n) } : {}), host: pick(hosts), members: some(pool, 3) });
  }
  const memberPool = [...users.map((u) => u.id), ...teams.map((t) => t.id)];
  const roleCount = 1 + int(4);
  const roles = Array.from({ length: roleCount }, (_, i) => ({
    id: `r${i}`,
    name: `R${i}`,
    members: some(memberPool, 3),
    ...(rand() < 0.4 ? { canView: some(Array.from({ length: roleCount }, (_, j) => `r${j}`), 2) } : {}),
  }));
  const rules = Array.from({ length: 1 + int(6) }, (_, i) => ({
    id: `rule${i}`,
    name: `Rule ${i}`,
    role: pick(roles).id,
    mode: pick(['auto', 'manual'] as const),
    ...(rand() < 0.7 ? { direction: pick(['inbound', 'outbound', 'both'] as const) } : {}),
    ...(rand() < 0.7 ? { origin: pick(['internal', 'external', 'both'] as const) } : {}),
    ...(rand() < 0.2 ? { active: false } : {}),
  }));
  return ruleSetOf({ users, teams, roles, rules });
}

/** The oracle: membership by walking up from an entity through the teams that contain it. */
function oracle(rs: RuleSet, host: string) {
  const containers = (id: string): Set<string> => {
    const found = new Set<string>([id]);
    let grew = true;
    while (grew) {
      grew = false;
      for (const t of rs.teams) {
        if (!found.has(t.id) && t.members.some((m) => found.has(m))) {
          found.add(t.id);
          grew = true;
        }
      }
    }
    return found;
  };
  const inRole = (entity: string, roleId: string) => {
    const role = rs.roles.find((r) => r.id === roleId)!;
    const up = containers(entity);
    return role.members.some((m) => up.has(m));
  };
  const entityOf = (ext: string) =>
    rs.users.find((u) => u.ext === ext) ?? rs.teams.find((t) => t.ext !== undefined && t.ext === ext);
  const covers = (rule: Rule, direction: string, origin: string) =>
    (rule.direction === 'both' || rule.direction === direction) && (rule.origin === 'both' || rule.origin === origin);
  const side = (ext: string, direction: string, origin: string): { decision: string; rule: string | null } => {
    const e = entityOf(ext);
    if (!e || e.host !== host) return { decision: 'none', rule: null };
    const matching = rs.rules.filter((r) => r.active && inRole(e.id, r.role) && covers(r, direction, origin));
    const winner = matching.find((r) => r.mode === 'auto') ?? matching[0];
    return winner ? { decision: winner.mode, rule: winner.id } : { decision: 'none', rule: null };
  };
  return {
    call(from: string, to: string, givenOrigin?: 'internal' | 'external') {
      const origin = givenOrigin ?? (entityOf(from) && entityOf(to) ? 'internal' : 'external');
      const a = side(from, 'outbound', origin);
      const b = side(to, 'inbound', origin);
      for (const d of ['auto', 'manual']) {
        if (a.decision === d) return [d, a.rule, 'outbound', origin];
        if (b.decision === d) return [d, b.rule, 'inbound', origin];
      }
      return ['none', null, null, origin];
    },
    manual(userId: string) {
      const u = rs.users.find((x) => x.id === userId)!;
      return ['outbound', 'inbound'].some((d) => ['internal', 'external'].some((o) => side(u.ext, d, o).decision === 'manual'));
    },
    canView(userId: string) {
      const viewed = rs.roles.filter((r) => inRole(userId, r.id)).flatMap((r) => r.canView);
      const users = rs.users.filter((u) => u.id !== userId && viewed.some((v) => inRole(u.id, v))).map((u) => u.id).sort();
      const numbers = rs.teams.filter((t) => t.ext !== undefined && viewed.some((v) => inRole(t.id, v))).map((t) => t.ext!).sort();
      return { users, numbers };
    },
  };
}

test('resolve + decide agree with the rule-walking oracle on 200 random companies', () => {
  let calls = 0;
  const decisions = new Map<string, number>();
  for (let seed = 1; seed <= 200; seed++) {
    const rs = randomCompany(seed);
    const numbers = [...rs.users.map((u) => u.ext), ...rs.teams.flatMap((t) => (t.ext ? [t.ext] : [])), '0301234', '999'];
    for (const host of rs.hosts.map((h) => h.name)) {
      const policy = resolvePolicy(rs, host);
      const o = oracle(rs, host);
      for (const from of numbers) {
        for (const to of numbers) {
          for (const origin of [undefined, 'internal', 'external'] as const) {
            const d = decide(policy, { from, to, ...(origin ? { origin } : {}) });
            const got = [d.decision, d.rule, d.direction, d.origin];
            assert.equal(got, o.call(from, to, origin), `seed ${seed} host ${host}: ${from} → ${to} origin ${origin}`);
            decisions.set(d.decision, (decisions.get(d.decision) ?? 0) + 1);
            calls++;
          }
        }
      }
      for (const u of rs.users) {
        const pu = policy.users[u.id]!;
        assert.is(pu.mayRecordManually, o.manual(u.id), `seed ${seed} host ${host}: mayRecordManually of ${u.id}`);
        assert.equal({ users: pu.canViewUsers, numbers: pu.canViewNumbers }, o.canView(u.id), `seed ${seed}: canView of ${u.id}`);
      }
    }
  }
  // The random companies must exercise every outcome, or the comparison proves little.
  for (const d of ['auto', 'manual', 'none']) assert.ok((decisions.get(d) ?? 0) > 100, `too few ${d} decisions: ${decisions.get(d)}`);
  assert.ok(calls > 10_000, `only ${calls} calls compared`);
});

test.run();
