import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { validateRules } from '../../generator/validate.ts';
import { BUNDLED_RULES } from '../../bin/cli-support.ts';

test('the bundled example rules validate', () => {
  const result = validateRules(BUNDLED_RULES);
  assert.equal(result.errors, []);
  assert.ok(result.ok);
});

test('defaults are filled in: first host is the home of users without one', () => {
  const result = validateRules(BUNDLED_RULES);
  if (!result.ok) throw new Error('bundled rules invalid');
  const anna = result.ruleSet.users.find((u) => u.id === 'anna')!;
  assert.is(anna.host, 'pbx-berlin');
  assert.is(result.ruleSet.settings.retentionDays, 90);
  assert.is(result.ruleSet.settings.ami.port, 5038);
  assert.is(result.ruleSet.rules.find((r) => r.id === 'support-manual')!.direction, 'both');
});

test('the CLI exits 0 on the bundled rules and 2 on a usage error', () => {
  const ok = spawnSync(process.execPath, ['bin/mitschnitt.js', 'validate'], { encoding: 'utf8' });
  assert.is(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /valid/);
  const usage = spawnSync(process.execPath, ['bin/mitschnitt.js', 'validate', '--nope'], { encoding: 'utf8' });
  assert.is(usage.status, 2);
  assert.match(usage.stderr, /Unknown option/);
});

test.run();
