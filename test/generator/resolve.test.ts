import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolvePolicy } from '../../generator/resolve-policy.ts';
import { validateRules } from '../../generator/validate.ts';
import { BUNDLED_RULES } from '../../bin/cli-support.ts';
import { ruleSetOf, type RuleFiles } from '../fixtures/build/rule-files.ts';
import type { Policy } from '../../generator/policy.ts';

const user = (id: string, ext: string, host?: string) => ({ id, name: `User ${id}`, ext, ...(host ? { host } : {}) });

/** Cells of a number as "decision:rule" strings, in the order out/int, out/ext, in/int, in/ext. */
function cells(policy: Policy, ext: string): string[] {
  const n = policy.numbers[ext];
  if (!n) throw new Error(`no number ${ext}`);
  return [n.outbound.internal, n.outbound.external, n.inbound.internal, n.inbound.external].map((c) => (c.rule ? `${c.decision}:${c.rule}` : c.decision));
}

const nested: RuleFiles = {
  users: [user('anna', '201'), user('ben', '202'), user('carl', '203'), user('dora', '204'), user('erik', '205', 'pbx-b')],
  teams: [
    { id: 'inner', name: 'Inner', ext: '601', members: ['carl'] },
    { id: 'middle', name: 'Middle', members: ['inner', 'ben'] },
    { id: 'outer', name: 'Outer', ext: '600', members: ['middle', 'erik'] },
  ],
  roles: [
    { id: 'rec', name: 'Recorded', members: ['outer'] },
    { id: 'solo', name: 'Solo', members: ['anna'] },
  ],
  rules: [{ id: 'r-auto', name: 'Auto', role: 'rec', mode: 'auto', direction: 'outbound', origin: 'external' }],
};

test('a team in a role stands for its own extension, its users and its nested teams, recursively', () => {
  const p = resolvePolicy(ruleSetOf(nested), 'pbx-a');
  for (const ext of ['600', '601', '202', '203']) assert.equal(cells(p, ext), ['none', 'auto:r-auto', 'none', 'none'], ext);
  assert.equal(cells(p, '201'), ['none', 'none', 'none', 'none']);
  assert.equal(cells(p, '204'), ['none', 'none', 'none', 'none']);
});

test("another host's numbers are listed, but every cell is none", () => {
  const p = resolvePolicy(ruleSetOf(nested), 'pbx-a');
  assert.is(p.numbers['205']!.host, 'pbx-b');
  assert.equal(cells(p, '205'), ['none', 'none', 'none', 'none']);
  const b = resolvePolicy(ruleSetOf(nested), 'pbx-b');
  assert.equal(cells(b, '205'), ['none', 'auto:r-auto', 'none', 'none']);
  assert.equal(cells(b, '202'), ['none', 'none', 'none', 'none']);
  assert.equal(Object.keys(b.numbers), Object.keys(p.numbers));
});

test('numbers carry kind, id, name and host; teams without an extension are not numbers', () => {
  const p = resolvePolicy(ruleSetOf(nested), 'pbx-a');
  assert.equal(Object.keys(p.numbers), ['201', '202', '203', '204', '205', '600', '601']);
  assert.equal({ ...p.numbers['600'], outbound: undefined, inbound: undefined }, { kind: 'team', id: 'outer', name: 'Outer', host: 'pbx-a', outbound: undefined, inbound: undefined });
  assert.is(p.numbers['201']!.kind, 'user');
});

test('a role whose members are teams records the teams (nested through a role of teams)', () => {
  const p = resolvePolicy(
    ruleSetOf({ ...nested, roles: [{ id: 'teams', name: 'Teams', members: ['inner', 'middle'] }], rules: [{ id: 'both', name: 'Both', role: 'teams', mode: 'manual' }] }),
    'pbx-a',
  );
  for (const ext of ['601', '202', '203']) assert.equal(cells(p, ext), Array(4).fill('manual:both'), ext);
  assert.equal(cells(p, '600'), Array(4).fill('none'), 'the outer team is not in the role');
});

test('inactive rules are ignored and not listed in the policy rules', () => {
  const p = resolvePolicy(
    ruleSetOf({ ...nested, rules: [{ id: 'off', name: 'Off', role: 'solo', mode: 'auto', active: false }, { id: 'on', name: 'On', role: 'solo', mode: 'manual', origin: 'internal' }] }),
    'pbx-a',
  );
  assert.equal(cells(p, '201'), ['manual:on', 'none', 'manual:on', 'none']);
  assert.equal(Object.keys(p.rules), ['on']);
});

test('auto beats manual regardless of order; losers are listed in others', () => {
  const p = resolvePolicy(
    ruleSetOf({
      ...nested,
      rules: [
        { id: 'm', name: 'Manual first', role: 'solo', mode: 'manual' },
        { id: 'a', name: 'Auto second', role: 'solo', mode: 'auto', direction: 'inbound' },
      ],
    }),
    'pbx-a',
  );
  assert.equal(cells(p, '201'), ['manual:m', 'manual:m', 'auto:a', 'auto:a']);
  assert.equal(p.numbers['201']!.inbound.external, { decision: 'auto', rule: 'a', others: ['m'] });
  assert.equal(p.numbers['201']!.outbound.external, { decision: 'manual', rule: 'm' });
});

test('among rules of the same mode the first in rules.json wins', () => {
  const files = (order: string[]) => ({
    ...nested,
    rules: order.map((id) => ({ id, name: id, role: 'solo', mode: 'auto' })),
  });
  assert.equal(resolvePolicy(ruleSetOf(files(['x', 'y', 'z'])), 'pbx-a').numbers['201']!.outbound.internal, { decision: 'auto', rule: 'x', others: ['y', 'z'] });
  assert.equal(resolvePolicy(ruleSetOf(files(['z', 'x', 'y'])), 'pbx-a').numbers['201']!.outbound.internal, { decision: 'auto', rule: 'z', others: ['x', 'y'] });
});

test('policy rules: retention defaults to settings, the script path is relative to the deployed dir', () => {
  const p = resolvePolicy(
    ruleSetOf({
      ...nested,
      settings: { retentionDays: 30 },
      rules: [
        { id: 'plain', name: 'Plain', role: 'solo', mode: 'auto' },
        { id: 'rich', name: 'Rich', role: 'rec', mode: 'manual', retentionDays: 7, beep: 15, announcement: 'custom/notice', deliver: { script: 'scripts/x.sh' } },
      ],
      scripts: { 'x.sh': '#!/bin/sh\n' },
    }),
    'pbx-a',
  );
  assert.equal(p.rules['plain'], { id: 'plain', name: 'Plain', mode: 'auto', role: 'solo', roleName: 'Solo', direction: 'both', origin: 'both', retentionDays: 30, deliver: {} });
  assert.equal(p.rules['rich'], {
    id: 'rich', name: 'Rich', mode: 'manual', role: 'rec', roleName: 'Recorded', direction: 'both', origin: 'both',
    retentionDays: 7, beep: 15, announcement: 'custom/notice', deliver: { script: 'scripts/x.sh' },
  });
});

test('users: mayRecordManually only for a manual cell of their own number on this host', () => {
  const files: RuleFiles = {
    ...nested,
    roles: [...nested.roles, { id: 'remote', name: 'Remote', members: ['erik', 'dora'] }],
    rules: [
      { id: 'm', name: 'M', role: 'remote', mode: 'manual', direction: 'inbound' },
      { id: 'a', name: 'A', role: 'solo', mode: 'auto' },
      { id: 'team-only', name: 'Team', role: 'rec', mode: 'manual' },
    ],
  };
  const a = resolvePolicy(ruleSetOf(files), 'pbx-a');
  assert.is(a.users['dora']!.mayRecordManually, true);
  assert.is(a.users['erik']!.mayRecordManually, false, 'erik lives on pbx-b');
  assert.is(a.users['anna']!.mayRecordManually, false, 'auto is not manual');
  assert.is(a.users['ben']!.mayRecordManually, true, 'in a team of a manual role');
  const b = resolvePolicy(ruleSetOf(files), 'pbx-b');
  assert.is(b.users['erik']!.mayRecordManually, true);
  assert.is(b.users['dora']!.mayRecordManually, false);
});

test('canView: users and team extensions of viewable roles, through team membership, never the user itself', () => {
  const p = resolvePolicy(
    ruleSetOf({
      ...nested,
      roles: [
        ...nested.roles,
        { id: 'boss', name: 'Boss', members: ['inner', 'dora'], canView: ['rec', 'solo'] },
      ],
    }),
    'pbx-a',
  );
  // carl is in the boss role through team inner, and in rec himself.
  assert.equal(p.users['carl']!.canViewUsers, ['anna', 'ben', 'erik']);
  assert.equal(p.users['carl']!.canViewNumbers, ['600', '601']);
  assert.equal(p.users['dora']!.canViewUsers, ['anna', 'ben', 'carl', 'erik']);
  assert.equal(p.users['anna']!.canViewUsers, []);
  assert.equal(p.users['anna']!.canViewNumbers, []);
});

test('the bundled rules: sales external calls auto, support manual, inactive training rule ignored', () => {
  const result = validateRules(BUNDLED_RULES);
  if (!result.ok) throw new Error('bundled rules invalid');
  const p = resolvePolicy(result.ruleSet, 'pbx-berlin');
  assert.equal(cells(p, '201'), ['none', 'auto:sales-external', 'none', 'auto:sales-external']);
  assert.equal(cells(p, '600'), ['none', 'auto:sales-external', 'none', 'auto:sales-external']);
  assert.equal(cells(p, '301'), Array(4).fill('manual:support-manual'));
  assert.equal(cells(p, '302'), Array(4).fill('none'), 'david lives in Hamburg');
  assert.equal(Object.keys(p.rules), ['sales-external', 'support-manual']);
  assert.equal(p.users['eva']!.canViewUsers, ['anna', 'ben']);
  assert.equal(p.users['eva']!.canViewNumbers, ['600']);
  assert.is(p.users['carla']!.mayRecordManually, true);
  assert.is(p.users['anna']!.mayRecordManually, false);
});

test('resolving is deterministic and does not depend on input order of users and teams', () => {
  const a = resolvePolicy(ruleSetOf(nested), 'pbx-a');
  const b = resolvePolicy(ruleSetOf({ ...nested, users: [...nested.users].reverse() }), 'pbx-a');
  assert.is(JSON.stringify(b), JSON.stringify(a));
});

test.run();
