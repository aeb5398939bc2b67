// `mitschnitt validate` as a user runs it: exit codes, human and --json output, no stack traces.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { materializeRules, type RulesDelta } from './materialize-rules.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CORPUS = fileURLToPath(new URL('../fixtures/invalid', import.meta.url));

function cli(...args: string[]) {
  return spawnSync(process.execPath, ['bin/mitschnitt.js', 'validate', ...args], { cwd: ROOT, encoding: 'utf8' });
}

function corpusCase(name: string): RulesDelta & { expect: { file: string; line?: number; column?: number }[] } {
  return JSON.parse(readFileSync(`${CORPUS}/${name}/case.json`, 'utf8'));
}

const noStack = (text: string) => assert.not.match(text, /\n\s+at .+:\d+:\d+/);

test('a sample of the invalid corpus exits 1 through the CLI, each error as file:line:column with a fix', () => {
  for (const name of ['syntax-missing-comma', 'duplicate-ext-user-team', 'team-cycle-3', 'cron-six-fields', 'script-symlink-escapes', 'inject-user-name-newline', 'email-delivery-without-smtp']) {
    const c = corpusCase(name);
    const rules = materializeRules(c);
    try {
      const run = cli('--rules', rules.dir);
      assert.is(run.status, 1, `${name}: ${run.stderr}`);
      noStack(run.stderr);
      const e = c.expect[0]!;
      const where = `${rules.dir}/${e.file}:${e.line ?? ''}`;
      assert.ok(run.stderr.includes(where), `${name}: ${where} in ${run.stderr}`);
      assert.match(run.stderr, /\n {4}fix: /);
      assert.match(run.stderr, /: 1 error\n$/);
    } finally {
      rules.cleanup();
    }
  }
});

test('--json prints { valid, errors, warnings } with file, line, column, pointer, message and hint', () => {
  const rules = materializeRules(corpusCase('duplicate-ext-users'));
  try {
    const run = cli('--rules', rules.dir, '--json');
    assert.is(run.status, 1);
    const out = JSON.parse(run.stdout) as { valid: boolean; errors: Record<string, unknown>[]; warnings: unknown[] };
    assert.equal(Object.keys(out), ['valid', 'errors', 'warnings']);
    assert.is(out.valid, false);
    assert.equal(out.errors, [
      {
        file: 'users.json',
        line: 19,
        column: 14,
        pointer: '/users/1/ext',
        message: 'extension 201 is used twice; already used in users.json at /users/0',
        hint: 'Users and teams share one number space: give each its own extension.',
      },
    ]);
    assert.equal(out.warnings, []);
  } finally {
    rules.cleanup();
  }
});

test('--json on valid rules exits 0 with no errors', () => {
  const run = cli('--json');
  assert.is(run.status, 0);
  assert.equal(JSON.parse(run.stdout), { valid: true, errors: [], warnings: [] });
});

test('warnings are printed but the rules stay valid (exit 0)', () => {
  const rules = materializeRules({ set: { 'users.json#/users/0/phones/0/mac': '00:1a:2b:3c:4d:5e' } });
  try {
    const run = cli('--rules', rules.dir);
    assert.is(run.status, 0, run.stderr);
    assert.match(run.stderr, `warning: ${rules.dir}/users.json:11:18 /users/0/phones/0/mac: MAC 00:1a:2b:3c:4d:5e is not a SNOM address`);
    assert.match(run.stdout, 'valid (1 warning)');
  } finally {
    rules.cleanup();
  }
});

test('keys, values and file names with terminal escapes or direction overrides are printed escaped', () => {
  const hostile = materializeRules({ files: { 'settings.json': '{ "\\u001b[2J\\u202e": 1, "spool": "/x\\u001b]0;owned\\u0007" }\n' } });
  const oddFile = materializeRules({ paths: { 'team\u001b[31m.json': { content: '{}' } } });
  try {
    const run = cli('--rules', hostile.dir);
    assert.is(run.status, 1);
    assert.not.match(run.stderr, /[\u001b\u0007\u202e]/);
    assert.match(run.stderr, 'unknown property "\\u001b[2J\\u202e"');
    assert.match(run.stderr, '(got "/x\\u001b]0;owned\\u0007")');
    const warned = cli('--rules', oddFile.dir);
    assert.is(warned.status, 0);
    assert.not.match(warned.stderr, /\u001b/);
    assert.match(warned.stderr, 'team\\u001b[31m.json is not a rule file');
  } finally {
    hostile.cleanup();
    oddFile.cleanup();
  }
});

test('a --rules folder that does not exist exits 1 with a clear message', () => {
  const run = cli('--rules', '/nonexistent/rules');
  assert.is(run.status, 1);
  assert.match(run.stderr, "/nonexistent/rules: rules folder '/nonexistent/rules' does not exist");
  noStack(run.stderr);
  const file = cli('--rules', fileURLToPath(import.meta.url));
  assert.is(file.status, 1);
  assert.match(file.stderr, 'is not a folder');
});

test('usage errors exit 2 and print the usage', () => {
  for (const args of [['--nope'], ['--rules'], ['extra-positional'], ['--json=yes']]) {
    const run = cli(...args);
    assert.is(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, 'Usage: mitschnitt validate [--rules DIR] [--json]');
    noStack(run.stderr);
  }
});

test('--help exits 0 and describes the command', () => {
  const run = cli('--help');
  assert.is(run.status, 0);
  assert.match(run.stdout, 'Usage: mitschnitt validate');
});

test.run();
