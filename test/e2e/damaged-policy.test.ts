// Every runtime command reads the deployed policy.json; one that parses but has wrong types (hand-edited, another
// version's) must stop each of them with one line naming the place, exit 1, never a stack trace.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './harness.ts';

const work = mkdtempSync(join(tmpdir(), 'mitschnitt-badpolicy-'));
// any: the test bends the built policy into wrong shapes on purpose, which no precise type allows.
let built: Record<string, any>;

const DAMAGE: [string, (p: typeof built) => void, string][] = [
  ['a rule that is null', (p) => (p.rules['sales-external'] = null), 'rules.sales-external must be object'],
  ['an unknown audio format', (p) => (p.settings.format = 'mp3'), 'settings.format must be equal to one of the allowed values'],
  ['a secrets folder that is a number', (p) => (p.settings.secretsDir = 5), 'settings.secretsDir must be string'],
  ['a user without phones list', (p) => (p.users.anna.phones = null), 'users.anna.phones must be array'],
  ['a retention in words', (p) => (p.rules['sales-external'].retentionDays = 'half a year'), 'rules.sales-external.retentionDays must be integer'],
];

test.before(async () => {
  const r = await cli(['build', '--out', join(work, 'out')]);
  assert.is(r.code, 0, r.stderr);
  built = JSON.parse(readFileSync(join(work, 'out/pbx-berlin/policy.json'), 'utf8'));
  built.settings.spool = join(work, 'spool');
  built.settings.secretsDir = join(work, 'secrets');
  mkdirSync(built.settings.spool);
});

test.after(() => rmSync(work, { recursive: true, force: true }));

test('the built policy itself passes: capacity reads it', async () => {
  const dir = join(work, 'good');
  mkdirSync(dir);
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(built));
  const r = await cli(['capacity', '--config', dir]);
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  assert.not.match(r.stderr, 'damaged');
});

for (const [what, damage, message] of DAMAGE) {
  test(`${what}: serve, deliver, expire, capacity and audit exit 1 with one line naming it`, async () => {
    const dir = join(work, what.replace(/\W+/g, '-'));
    mkdirSync(dir);
    const policy = structuredClone(built);
    damage(policy);
    writeFileSync(join(dir, 'policy.json'), JSON.stringify(policy));
    const commands = ['serve', 'deliver', 'expire', 'capacity', 'audit'];
    const results = await Promise.all(commands.map((command) => cli([command, '--config', dir])));
    for (const [i, command] of commands.entries()) {
      const r = results[i]!;
      assert.is(r.code, 1, `${command}: ${r.stdout}${r.stderr}`);
      assert.is(r.stderr.trim().split('\n').length, 1, `${command}: ${r.stderr}`);
      assert.match(r.stderr, `policy.json is damaged: ${message}`, command);
    }
  });
}

test.run();
