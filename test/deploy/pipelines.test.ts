// The CI pipeline files in ci/ call the CLI: every flag they use must exist, and plan's "changes" exit code (3)
// must not fail a merge-request job while an error (1) must.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { deployCommand } from '../../ci/deploy-command.ts';
import { planCommand } from '../../ci/plan-command.ts';
import { validateCommand } from '../../generator/validate-command.ts';
import type { Command } from '../../bin/cli-support.ts';

const commands: Record<string, Command> = { plan: planCommand, deploy: deployCommand, validate: validateCommand };
const file = (name: string) => readFileSync(fileURLToPath(new URL(`../../ci/${name}`, import.meta.url)), 'utf8');

for (const name of ['github-actions.yml', 'gitlab-ci.yml']) {
  test(`${name}: every mitschnitt call uses existing commands and flags`, () => {
    const calls = [...file(name).matchAll(/mitschnitt\.js (\w+)([^\n]*)/g)];
    assert.ok(calls.length >= 3, 'validate, plan and deploy are called');
    assert.equal([...new Set(calls.map((c) => c[1]))].sort(), ['deploy', 'plan', 'validate']);
    for (const [, command, rest] of calls) {
      for (const flag of rest!.match(/--[a-z-]+/g) ?? []) {
        assert.ok(commands[command!]!.usage.includes(flag), `${command} ${flag} is in the usage`);
      }
    }
  });
}

test('github-actions.yml: the plan step passes on exit 0 and 3 and fails on 1', () => {
  const gate = file('github-actions.yml').match(/^\s+(\[ "\$code" -eq 0 \] \|\| \[ "\$code" -eq 3 \])$/m)![1]!;
  for (const [code, ok] of [[0, true], [3, true], [1, false], [2, false]] as const) {
    assert.is(spawnSync('bash', ['-c', `code=${code}; ${gate}`]).status === 0, ok, `exit ${code}`);
  }
});

test('gitlab-ci.yml: the plan step passes on exit 0 and 3 and fails on 1', () => {
  const gate = file('gitlab-ci.yml').match(/- (test "\$code" -eq 0 -o "\$code" -eq 3)$/m)![1]!;
  for (const [code, ok] of [[0, true], [3, true], [1, false], [2, false]] as const) {
    assert.is(spawnSync('sh', ['-c', `code=${code}; ${gate}`]).status === 0, ok, `exit ${code}`);
  }
});

/** The text of one job of a pipeline file: from its `name:` line (at the jobs' indentation) to the next job. */
function job(text: string, name: string, indent: string): string {
  const start = text.indexOf(`\n${indent}${name}:\n`);
  assert.ok(start >= 0, `job ${name}`);
  const rest = text.slice(start + 1);
  const next = rest.slice(1).search(new RegExp(`\n${indent}[a-z][a-z-]*:\n`));
  return next < 0 ? rest : rest.slice(0, next + 1);
}

test('github-actions.yml: the plan job gets the plan key (a repository secret), only the deploy job in environment production the deploy key', () => {
  const text = file('github-actions.yml');
  const plan = job(text, 'plan', '  ');
  const deploy = job(text, 'deploy', '  ');
  assert.match(plan, 'MITSCHNITT_SSH_KEY: ${{ secrets.MITSCHNITT_PLAN_KEY }}');
  assert.not.match(plan, 'secrets.MITSCHNITT_SSH_KEY');
  assert.not.match(plan, 'environment:', 'no environment: its secrets would not reach pull requests anyway');
  assert.match(deploy, /^    environment: production$/m);
  assert.match(deploy, 'MITSCHNITT_SSH_KEY: ${{ secrets.MITSCHNITT_SSH_KEY }}');
});

test('gitlab-ci.yml: the plan job uses the plan key, the deploy job (environment production) the deploy key', () => {
  const text = file('gitlab-ci.yml');
  const plan = job(text, 'plan', '');
  const deploy = job(text, 'deploy', '');
  assert.match(plan, /^    MITSCHNITT_SSH_KEY: \$MITSCHNITT_PLAN_KEY$/m);
  assert.match(deploy, /^  environment: production$/m);
  assert.not.match(deploy, 'MITSCHNITT_PLAN_KEY');
});

test.run();
