import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decide, sanitizeNumber } from '../../generator/decide.ts';
import { resolvePolicy } from '../../generator/resolve-policy.ts';
import { ruleSetOf } from '../fixtures/build/rule-files.ts';

const user = (id: string, ext: string, host?: string) => ({ id, name: `User ${id}`, ext, ...(host ? { host } : {}) });

// sales (201, 202, team 600): auto outbound external; support (301): manual both ways;
// callee-auto (401): auto on inbound calls only; remote (501) lives on pbx-b.
const policy = resolvePolicy(
  ruleSetOf({
    users: [user('anna', '201'), user('ben', '202'), user('carla', '301'), user('dora', '401'), user('erik', '501', 'pbx-b')],
    teams: [{ id: 'sales', name: 'Vertrieb', ext: '600', members: ['anna', 'ben'] }],
    roles: [
      { id: 'sales-staff', name: 'Sales', members: ['sales'] },
      { id: 'support-staff', name: 'Support', members: ['carla'] },
      { id: 'inbound-only', name: 'Inbound', members: ['dora', 'erik'] },
      { id: 'everyone', name: 'All', members: ['anna', 'carla', 'dora'] },
    ],
    rules: [
      { id: 'sales-out', name: 'Sales out', role: 'sales-staff', mode: 'auto', direction: 'outbound', origin: 'external' },
      { id: 'support-manual', name: 'Support', role: 'support-staff', mode: 'manual' },
      { id: 'dora-in', name: 'Dora in', role: 'inbound-only', mode: 'auto', direction: 'inbound' },
      { id: 'all-manual', name: 'All manual', role: 'everyone', mode: 'manual', origin: 'internal' },
    ],
  }),
  'pbx-a',
);

const pick = (d: ReturnType<typeof decide>) => [d.decision, d.rule, d.direction, d.origin];

test('sanitizing keeps only 0-9 * # + like FILTER(0-9*#+,…)', () => {
  assert.is(sanitizeNumber('+49 (30) 123-45'), '+493012345');
  assert.is(sanitizeNumber('*21#'), '*21#');
  assert.is(sanitizeNumber('2;0,1)${X}'), '201');
  assert.is(sanitizeNumber('abc'), '');
  assert.is(decide(policy, { from: ' 2-0-1 ', to: '0301234' }).from, '201');
});

test('MDC_MON_MODE force, deny and manual decide alone, without a rule or direction', () => {
  for (const mode of ['force', 'deny', 'manual'] as const) {
    const d = decide(policy, { from: '201', to: '0301234', mode });
    assert.equal(pick(d), [mode, null, null, 'external'], mode);
    assert.is(d.warning, undefined);
  }
  // Even where a rule would record automatically, deny wins.
  assert.is(decide(policy, { from: '201', to: '0301234', mode: 'deny' }).decision, 'deny');
  // And force records where no rule would.
  assert.is(decide(policy, { from: '0301234', to: '0409999', mode: 'force' }).decision, 'force');
});

test('unset, empty and "auto" MDC_MON_MODE let the rules decide without a warning', () => {
  for (const mode of [undefined, '', 'auto']) {
    const d = decide(policy, { from: '201', to: '0301234', ...(mode === undefined ? {} : { mode }) });
    assert.equal(pick(d), ['auto', 'sales-out', 'outbound', 'external'], String(mode));
    assert.is(d.warning, undefined);
  }
});

test('an unknown MDC_MON_MODE (case-sensitive, garbage) warns and falls back to the rules', () => {
  for (const mode of ['FORCE', 'Deny', 'yes', ' force', 'force ', '1', '${X}']) {
    const d = decide(policy, { from: '201', to: '0301234', mode });
    assert.equal(pick(d), ['auto', 'sales-out', 'outbound', 'external'], mode);
    assert.match(d.warning ?? '', /not one of force, deny, manual, auto/);
  }
  assert.is(decide(policy, { from: '0301', to: '0409', mode: 'FORCE' }).decision, 'none');
});

test('origin is internal exactly when both numbers are internal numbers of the company (any host)', () => {
  assert.is(decide(policy, { from: '201', to: '202' }).origin, 'internal');
  assert.is(decide(policy, { from: '201', to: '600' }).origin, 'internal', 'team extension');
  assert.is(decide(policy, { from: '201', to: '501' }).origin, 'internal', "another host's number");
  assert.is(decide(policy, { from: '201', to: '999' }).origin, 'external');
  assert.is(decide(policy, { from: '0301234', to: '201' }).origin, 'external');
  assert.is(decide(policy, { from: '', to: '201' }).origin, 'external');
  assert.is(decide(policy, { from: '2 01', to: '(202)' }).origin, 'internal', 'after sanitizing');
});

test('an explicit origin overrides the derivation; anything else is ignored with a warning', () => {
  assert.equal(pick(decide(policy, { from: '201', to: '202', origin: 'external' })), ['auto', 'sales-out', 'outbound', 'external']);
  assert.equal(pick(decide(policy, { from: '201', to: '0301234', origin: 'internal' })), ['manual', 'all-manual', 'outbound', 'internal']);
  const garbage = decide(policy, { from: '201', to: '0301234', origin: 'External' });
  assert.equal(pick(garbage), ['auto', 'sales-out', 'outbound', 'external']);
  assert.match(garbage.warning ?? '', /neither 'internal' nor 'external'/);
  assert.is(decide(policy, { from: '201', to: '202', origin: '' }).warning, undefined);
});

test('caller side is the outbound cell, callee side the inbound cell', () => {
  assert.equal(pick(decide(policy, { from: '0301234', to: '201' })), ['none', null, null, 'external'], 'sales records only outbound');
  assert.equal(pick(decide(policy, { from: '0301234', to: '401' })), ['auto', 'dora-in', 'inbound', 'external']);
  assert.equal(pick(decide(policy, { from: '401', to: '0301234' })), ['none', null, null, 'external']);
  assert.equal(pick(decide(policy, { from: '0301234', to: '600' })), ['none', null, null, 'external']);
  assert.equal(pick(decide(policy, { from: '600', to: '0301234' })), ['auto', 'sales-out', 'outbound', 'external']);
});

test('auto on either side beats manual on the other', () => {
  // carla (manual) calls dora (auto inbound, internal too).
  assert.equal(pick(decide(policy, { from: '301', to: '401' })), ['auto', 'dora-in', 'inbound', 'internal']);
  // the same call in the other direction: dora's outbound internal is manual (all-manual), carla's inbound manual.
  assert.equal(pick(decide(policy, { from: '401', to: '301' })), ['manual', 'all-manual', 'outbound', 'internal']);
});

test('on a tie the caller side wins: its rule and direction outbound', () => {
  // anna (all-manual outbound internal) calls carla (support-manual inbound internal).
  const d = decide(policy, { from: '201', to: '301' });
  assert.equal(pick(d), ['manual', 'all-manual', 'outbound', 'internal']);
  assert.ok(d.reason.some((r) => /caller's side wins/.test(r)));
  assert.equal(pick(decide(policy, { from: '301', to: '201' })), ['manual', 'support-manual', 'outbound', 'internal']);
  // both auto: anna calls dora with origin external forced.
  assert.equal(pick(decide(policy, { from: '201', to: '401', origin: 'external' })), ['auto', 'sales-out', 'outbound', 'external']);
});

test("another host's numbers decide nothing here, though they count as internal", () => {
  assert.equal(pick(decide(policy, { from: '0301234', to: '501' })), ['none', null, null, 'external']);
  assert.equal(pick(decide(policy, { from: '501', to: '401' })), ['auto', 'dora-in', 'inbound', 'internal']);
});

test('unknown numbers on both sides: none, with reasons naming both', () => {
  const d = decide(policy, { from: '0301234', to: '0409999' });
  assert.equal(pick(d), ['none', null, null, 'external']);
  assert.ok(d.reason.some((r) => r.includes('caller 0301234 is not an internal number')));
  assert.ok(d.reason.some((r) => r.includes('callee 0409999 is not an internal number')));
});

test('numbers that look like object keys are just unknown numbers', () => {
  assert.is(decide(policy, { from: 'constructor', to: '__proto__' }).decision, 'none');
});

test.run();
