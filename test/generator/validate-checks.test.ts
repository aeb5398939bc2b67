// Cross-file checks on rule sets that are valid: what they accept, and the warnings that do not make rules invalid.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateRules, type Validation } from '../../generator/validate.ts';
import { cronProblem } from '../../generator/check-schedules.ts';
import { materializeRules, type RulesDelta } from './materialize-rules.ts';

function validate(delta: RulesDelta, edit?: (dir: string) => void): Validation {
  const rules = materializeRules(delta);
  try {
    edit?.(rules.dir);
    return validateRules(rules.dir);
  } finally {
    rules.cleanup();
  }
}

function valid(delta: RulesDelta, edit?: (dir: string) => void): Validation & { ok: true } {
  const result = validate(delta, edit);
  assert.equal(result.errors, []);
  if (!result.ok) throw new Error('unreachable');
  return result;
}

test('the bundled rules have no warnings', () => {
  assert.equal(valid({}).warnings, []);
});

test('a MAC outside SNOM\'s range is a warning, not an error', () => {
  const { warnings } = valid({ set: { 'users.json#/users/0/phones/0/mac': '00:1a:2b:3c:4d:5e' } });
  assert.is(warnings.length, 1);
  assert.is(warnings[0]!.pointer, '/users/0/phones/0/mac');
  assert.match(warnings[0]!.message, 'not a SNOM address');
  assert.ok(warnings[0]!.line > 1 && warnings[0]!.hint);
});

test('MACs in every accepted spelling normalise to one form, so duplicates are found across spellings', () => {
  for (const mac of ['0004132A3B01', '00-04-13-2a-3b-01', '00:04:13:2A:3B:01']) {
    const result = validate({ set: { 'users.json#/users/5/phones/-': { mac, model: 'D785' } } });
    assert.not.ok(result.ok, mac);
    assert.match(result.errors[0]!.message, "already anna's phone");
  }
  valid({ set: { 'users.json#/users/5/phones/-': { mac: '0004132A3B99', model: 'D785' } } });
});

test('a role without members and a rule that records nobody are warnings', () => {
  const { warnings } = valid({
    set: {
      'teams.json#/teams/-': { id: 'empty', name: 'Leer', members: [] },
      'roles.json#/roles/-': { id: 'nobody', name: 'Niemand', members: ['empty'] },
      'rules.json#/rules/-': { id: 'nobody-rule', name: 'Niemand', role: 'nobody', mode: 'auto' },
    },
  });
  assert.equal(
    warnings.map((w) => [w.file, w.pointer]),
    [
      ['rules.json', '/rules/3/role'],
      ['teams.json', '/teams/2/members'],
    ],
  );
  assert.match(warnings[0]!.message, 'records nobody: role "nobody" contains no users');
  const emptyRole = valid({ set: { 'roles.json#/roles/-': { id: 'leer', name: 'Leer', members: [] } } }).warnings;
  assert.equal(emptyRole.map((w) => w.message), ['role "leer" has no members']);
});

test('an inactive rule for an empty role is not worth a warning', () => {
  const { warnings } = valid({
    set: {
      'roles.json#/roles/-': { id: 'leer', name: 'Leer', members: [] },
      'rules.json#/rules/2/role': 'leer',
    },
  });
  assert.equal(warnings.map((w) => w.pointer), ['/roles/3/members']);
});

test('nested teams expand to their users (a rule on a team of teams records someone)', () => {
  const { warnings } = valid({
    set: {
      'teams.json#/teams/-': { id: 'alle', name: 'Alle', members: ['sales', 'support'] },
      'roles.json#/roles/0/members/0': 'alle',
    },
  });
  assert.equal(warnings, []);
});

test('a misspelt or foreign .json file in the rules folder is a warning', () => {
  const { warnings } = valid({ paths: { 'team.json': { content: '{}' }, 'notes.json': { content: '{}' }, 'README.md': { content: 'x' } } });
  assert.equal(
    warnings.map((w) => [w.file, w.message, w.hint]),
    [
      ['notes.json', 'notes.json is not a rule file and is ignored', 'mitschnitt reads only settings.json, hosts.json, users.json, teams.json, roles.json, rules.json; move other files out of the rules folder.'],
      ['team.json', 'team.json is not a rule file and is ignored', 'Did you mean teams.json? Rename it.'],
    ],
  );
});

test('a schedule restricting both day-of-month and day-of-week warns about cron\'s OR', () => {
  const { warnings } = valid({ set: { 'settings.json#/deliverySchedule': '0 20 1 * mon' } });
  assert.is(warnings.length, 1);
  assert.match(warnings[0]!.message, 'EITHER');
});

test('cron schedules Debian cron understands are accepted, others name the bad field', () => {
  for (const ok of ['0 20 * * *', '*/15 7-18 * * 1-5', '0 8,12,16 * * MON', '30 3 1 jan *', '0 0 29 2 *', '0-30/10 * * * 0-7', '59 23 31 12 7']) {
    assert.is(cronProblem(ok), undefined, ok);
  }
  const wrong: [string, RegExp][] = [
    ['* * * *', /has 4 fields/],
    ['0 20 ? * *', /day-of-month field "\?" is not cron syntax/],
    ['0 20 * * 5#2', /day-of-week field "5#2" is not cron syntax/],
    ['0 20 * * 1,', /day-of-week field "1,"/],
    ['0 20 * janx *', /month field "janx"/],
    ['0 20 * * mon-fri', /day-of-week field "mon-fri": cron allows a name .* only on its own/],
    ['0 20 1 jan,jul *', /month field "jan,jul": cron allows a name/],
    ['0 20 * * xyz', /day-of-week field "xyz" is invalid/],
    ['*/0 * * * *', /minute field "\*\/0" is invalid/],
    ['0 20 30 feb *', /never runs/],
  ];
  for (const [expression, message] of wrong) assert.match(cronProblem(expression) ?? '', message, expression);
});

test('settings.json may be left out: every default applies', () => {
  const { ruleSet } = valid({ files: { 'settings.json': null }, remove: ['rules.json#/rules/0/deliver'] });
  assert.is(ruleSet.settings.spool, '/var/spool/asterisk/mitschnitt');
  assert.is(ruleSet.settings.deliverySchedule, '0 20 * * *');
  assert.is(ruleSet.settings.retentionSchedule, '30 3 * * *');
  assert.is(ruleSet.settings.http.listen, '0.0.0.0:8484');
  assert.is(ruleSet.settings.smtp, undefined);
});

test('teams.json may be left out', () => {
  const { ruleSet } = valid({ files: { 'teams.json': null }, set: { 'roles.json#/roles/0/members': ['anna', 'ben'], 'roles.json#/roles/1/members': ['carla'] } });
  assert.equal(ruleSet.teams, []);
});

test('a UTF-8 byte order mark is accepted and positions stay right', () => {
  const result = validate({}, (dir) => {
    const path = join(dir, 'rules.json');
    writeFileSync(path, `\uFEFF${readFileSync(path, 'utf8').replace('"auto"', '"always"')}`);
  });
  assert.not.ok(result.ok);
  assert.equal([result.errors[0]!.line, result.errors[0]!.column], [8, 15]);
});

test('a file that is not UTF-8 is an error, not a crash', () => {
  const result = validate({}, (dir) => writeFileSync(join(dir, 'users.json'), Buffer.from([0x7b, 0xff, 0xfe, 0x7d])));
  assert.not.ok(result.ok);
  assert.match(result.errors[0]!.message, 'users.json cannot be read: it is not valid UTF-8');
});

test('a rule file that is a directory is an error, not a crash', () => {
  const result = validate({ files: { 'users.json': null }, paths: { 'users.json': { dir: true } } });
  assert.match(result.errors[0]!.message, 'users.json cannot be read: it is not a regular file');
});

test('a script may be a symlink to another file inside scripts/', () => {
  valid({ paths: { 'scripts/real.sh': { content: '#!/bin/sh\nexit 0\n' }, 'scripts/archive-to-dms.sh': { symlink: 'real.sh' } } });
});

test('a script without the executable bit is fine: deploy installs it 0755', () => {
  valid({ paths: { 'scripts/archive-to-dms.sh': { content: '#!/usr/bin/env bash\nexit 0\n', mode: '644' } } });
});

test('IPv6 addresses are accepted for hosts and the listen address', () => {
  valid({
    set: {
      'hosts.json#/hosts/0/address': '2001:db8::5',
      'hosts.json#/hosts/0/url': 'https://[2001:db8::5]:8443',
      'settings.json#/http': { listen: '[::]:8484' },
      'settings.json#/ami': { host: '::1' },
    },
  });
});

test('IPv4 addresses within range are accepted wherever a host may be given', () => {
  valid({
    set: {
      'hosts.json#/hosts/0/address': '192.0.2.10',
      'hosts.json#/hosts/0/url': 'http://192.0.2.10:8484',
      'settings.json#/http': { listen: '10.0.0.255:65535' },
      'settings.json#/ami': { host: '127.0.0.1' },
    },
  });
});

test.run();
