import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { explain } from '../../generator/explain.ts';
import { decide } from '../../generator/decide.ts';
import { resolvePolicy } from '../../generator/resolve-policy.ts';
import { build } from '../../generator/build.ts';
import { BUNDLED_RULES } from '../../bin/cli-support.ts';
import { ruleSetOf } from '../fixtures/build/rule-files.ts';
import { runCli } from '../fixtures/build/run-cli.ts';

const cli = (...args: string[]) => runCli('explain', ...args);
const tmp = mkdtempSync(join(tmpdir(), 'mitschnitt-explain-'));

const user = (id: string, name: string, ext: string) => ({ id, name, ext });
const policy = resolvePolicy(
  ruleSetOf({
    users: [user('anna', 'Anna Berger', '201'), user('carla', 'Carla Nowak', '301'), user('dora', 'Dora Bach', '401')],
    teams: [{ id: 'sales', name: 'Vertrieb', ext: '600', members: ['anna'] }],
    roles: [
      { id: 'sales-staff', name: 'Sales people', members: ['sales'] },
      { id: 'support-staff', name: 'Support', members: ['carla', 'anna'] },
    ],
    rules: [
      { id: 'support-manual', name: 'Support by hand', role: 'support-staff', mode: 'manual' },
      { id: 'sales-external', name: 'Sales proof', role: 'sales-staff', mode: 'auto', origin: 'external', beep: 15, retentionDays: 180 },
    ],
  }),
  'pbx-a',
);
const text = (q: Parameters<typeof explain>[1]) => explain(policy, q).lines.join('\n');

test('auto: names the member, the rule, its role, the cell and what happens to the recording', () => {
  const t = text({ from: '201', to: '0301234' });
  assert.match(t, /^Recorded automatically: Anna Berger \(201\) calls outside number 0301234\./);
  assert.match(t, /Rule sales-external 'Sales proof' records outbound external calls of role sales-staff \(Sales people\); Anna Berger \(201\) is covered as the caller\./);
  assert.match(t, /kept 180 days; a beep every 15 s/);
  assert.match(t, /Also covering this: support-manual \(manual\); auto beats manual/);
  assert.match(t, /External call: 0301234 is not an internal number\. Decided by the policy of host pbx-a\./);
});

test('inbound: the callee is the covered member', () => {
  assert.match(text({ from: '0301234', to: '600' }), /records inbound external calls of role sales-staff .*team Vertrieb \(600\) is covered as the callee/);
});

test('manual: says that members may start it themselves', () => {
  const t = text({ from: '301', to: '401' });
  assert.match(t, /^Not recorded unless someone starts it: Carla Nowak \(301\) calls Dora Bach \(401\)\./);
  assert.match(t, /Rule support-manual 'Support by hand' lets members record outbound internal calls/);
  assert.match(t, /start and stop the recording themselves/);
  assert.match(t, /Internal call: both numbers are internal numbers/);
});

test('a tie is explained: the caller side decides', () => {
  assert.match(text({ from: '301', to: '201' }), /The other side, Anna Berger \(201\), is manual by rule support-manual; both sides match and the caller's side decides\./);
});

test('none: says which side has no rule and which number is outside', () => {
  const t = text({ from: '401', to: '0301234' });
  assert.match(t, /^Not recorded: Dora Bach \(401\) calls outside number 0301234\./);
  assert.match(t, /no active rule covers outbound external calls of Dora Bach \(401\), and the callee is not an internal number/);
});

test('force, deny and manual by MDC_MON_MODE override the rules, in words', () => {
  assert.match(text({ from: '401', to: '0301234', mode: 'force' }), /^Recorded \(forced on the channel\):[^]*MDC_MON_MODE=force/);
  assert.match(text({ from: '201', to: '0301234', mode: 'deny' }), /^Not recorded \(denied on the channel\):[^]*MDC_MON_MODE=deny/);
  assert.match(text({ from: '201', to: '0301234', mode: 'manual' }), /MDC_MON_MODE=manual on the channel: the rules are not consulted/);
});

test('an unknown MDC_MON_MODE is explained with a warning, and the rules decide', () => {
  const t = text({ from: '201', to: '0301234', mode: 'Force' });
  assert.match(t, /^Recorded automatically/);
  assert.match(t, /Warning: MDC_MON_MODE 'Force' is not one of force, deny, manual, auto \(case-sensitive\); the rules decide\./);
});

test('the explanation carries exactly decide()', () => {
  const q = { from: '301', to: '201', origin: 'external' };
  assert.equal(explain(policy, q).decision, decide(policy, q));
});

test('CLI: text on the bundled rules picks the host of the internal number', async () => {
  const r = await cli('--from', '302', '--to', '0301234');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /David Öztürk \(302\)/);
  assert.match(r.stdout, /support-manual/);
  assert.match(r.stdout, /policy of host pbx-hamburg/);
  const berlin = await cli('--from', '302', '--to', '0301234', '--host', 'pbx-berlin');
  assert.match(berlin.stdout, /^Not recorded: David Öztürk \(302, on host pbx-hamburg\)/);
  assert.match(berlin.stdout, /lives on host pbx-hamburg/);
});

test('CLI: an inactive rule that would change the outcome is named; one that would not, is not', async () => {
  const r = await cli('--from', '201', '--to', '202');
  assert.match(r.stdout, /^Not recorded: Anna Berger \(201\) calls Ben Schulz \(202\)\./);
  assert.match(r.stdout, /Rule sales-internal-training '[^']+' would make this call auto \(outbound\), but it is inactive/);
  // Externally the active sales rule records anyway: the inactive internal one is irrelevant.
  assert.not.match((await cli('--from', '201', '--to', '0301234')).stdout, /inactive/);
  // A force on the channel is not about rules at all.
  assert.not.match((await cli('--from', '201', '--to', '202', '--mode', 'force')).stdout, /inactive/);
});

test('CLI: --json prints the decide() object', async () => {
  const r = await cli('--from', '201', '--to', '+49 30 1234', '--json');
  assert.is(r.status, 0, r.stderr);
  const d = JSON.parse(r.stdout);
  assert.equal([d.decision, d.rule, d.direction, d.origin, d.from, d.to], ['auto', 'sales-external', 'outbound', 'external', '201', '+49301234']);
  assert.ok(Array.isArray(d.reason));
  const garbage = JSON.parse((await cli('--from', '201', '--to', '0301', '--mode', 'yes', '--json')).stdout);
  assert.match(garbage.warning, /MDC_MON_MODE 'yes'/);
});

test('CLI: --policy reads a built policy.json and gives the same answer as --rules', async () => {
  const rules = join(tmp, 'rules');
  cpSync(BUNDLED_RULES, rules, { recursive: true });
  const out = join(tmp, 'out');
  const built = await build({ rulesDir: rules, outDir: out });
  assert.ok(built.ok);
  const fromPolicy = await cli('--from', '0301234', '--to', '600', '--policy', join(out, 'pbx-berlin', 'policy.json'));
  const fromRules = await cli('--from', '0301234', '--to', '600', '--rules', rules);
  assert.is(fromPolicy.status, 0, fromPolicy.stderr);
  assert.is(fromPolicy.stdout, fromRules.stdout);
  assert.match(fromPolicy.stdout, /team Vertrieb \(600\) is covered as the callee/);
  const wrongHost = await cli('--from', '1', '--to', '2', '--policy', join(out, 'pbx-berlin', 'policy.json'), '--host', 'pbx-hamburg');
  assert.is(wrongHost.status, 1);
  assert.match(wrongHost.stderr, /policy of host pbx-berlin, not pbx-hamburg/);
  writeFileSync(join(tmp, 'not-policy.json'), '{"hello": 1}');
  const notPolicy = await cli('--from', '1', '--to', '2', '--policy', join(tmp, 'not-policy.json'));
  assert.is(notPolicy.status, 1);
  assert.match(notPolicy.stderr, /is not a mitschnitt policy\.json/);
  writeFileSync(join(tmp, 'damaged.json'), JSON.stringify({ version: 1, host: 'pbx-berlin', numbers: { '201': { kind: 'user' } }, rules: {} }));
  const damaged = await cli('--from', '201', '--to', '2', '--policy', join(tmp, 'damaged.json'));
  assert.is(damaged.status, 1);
  assert.match(damaged.stderr, /number 201 lacks its outbound\/inbound cells/);
});

test('CLI: usage errors exit 2 with the usage; invalid rules exit 1', async () => {
  for (const args of [['--from', '201'], ['--to', '201'], ['--from', '1', '--to', '2', '--origin', 'Internal'], ['--from', '1', '--to', '2', '--host', 'nowhere'], ['--from', '1', '--to', '2', '--rules', 'x', '--policy', 'y'], ['--frm', '1']]) {
    const r = await cli(...args);
    assert.is(r.status, 2, args.join(' '));
    assert.match(r.stderr, /Usage: mitschnitt explain/);
  }
  const rules = join(tmp, 'broken');
  cpSync(BUNDLED_RULES, rules, { recursive: true });
  writeFileSync(join(rules, 'users.json'), '{"users": "nope"}');
  const bad = await cli('--from', '1', '--to', '2', '--rules', rules);
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /users\.json/);
  assert.not.match(bad.stderr, /    at /);
});

test('the installed entry point bin/mitschnitt.js runs explain', () => {
  const r = spawnSync(process.execPath, ['bin/mitschnitt.js', 'explain', '--from', '201', '--to', '0301234'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Recorded automatically: Anna Berger \(201\)/);
  const usage = spawnSync(process.execPath, ['bin/mitschnitt.js', 'explain', '--to', '1'], { encoding: 'utf8' });
  assert.is(usage.status, 2);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('explain --inherited deny: a channel created by a denied call is not recorded, whatever the rules and its own MDC_MON_MODE say', async () => {
  const r = await cli('--from', '0301234567', '--to', '201', '--inherited', 'deny', '--mode', 'force', '--json');
  assert.is(r.status, 0, r.stderr);
  assert.is(JSON.parse(r.stdout).decision, 'deny');
  const words = await cli('--from', '0301234567', '--to', '201', '--inherited', 'deny');
  assert.match(words.stdout, /inherited MITSCHNITT_DECISION=deny/);
  const fresh = await cli('--from', '0301234567', '--to', '201', '--inherited', 'manual', '--json');
  assert.is(JSON.parse(fresh.stdout).decision, 'auto', 'an inherited manual counts for nothing');
});

test.run();
