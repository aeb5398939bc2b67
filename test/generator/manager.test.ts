import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AMI_READ, AMI_WRITE, CHANNEL_VARS, amiSecretInclude, amiSecretIncludePath, renderManager } from '../../generator/render-manager.ts';
import { asteriskConfEscape, UnsafeValueError } from '../../generator/host-file-template.ts';
import { aclAllows, aclRules, browse, ConfigError, loadConfig, retrieve } from './manager-asterisk-config.ts';
import { assertGolden, renderBundled } from '../fixtures/golden-host-files/golden.ts';
import { samplePolicy, sampleHost } from './snom-sample-policy.ts';

const dirs: string[] = [];
function pbx(options: { general?: boolean; secret?: string; settings?: Parameters<typeof samplePolicy>[0] } = {}) {
  const root = mkdtempSync(join(tmpdir(), 'mitschnitt-manager-'));
  dirs.push(root);
  const policy = samplePolicy({ secretsDir: join(root, 'secrets'), ...options.settings });
  const host = sampleHost({ dir: join(root, 'mitschnitt') });
  const [file] = renderManager({ ruleSet: undefined as never, policy, host });
  const current = join(root, 'mitschnitt', 'current', 'asterisk');
  mkdirSync(current, { recursive: true });
  mkdirSync(join(root, 'secrets'));
  writeFileSync(join(current, 'manager_mitschnitt.conf'), file!.content);
  if (options.secret !== undefined) writeFileSync(amiSecretIncludePath(policy.settings), amiSecretInclude(options.secret));
  const etc = join(root, 'asterisk');
  mkdirSync(etc);
  // An admin's manager.conf: their own user, then our include at the end.
  writeFileSync(
    join(etc, 'manager.conf'),
    [
      ...(options.general === false ? [] : ['[general]', 'enabled = yes', 'port = 5038', 'bindaddr = 127.0.0.1', '']),
      '[admin]',
      'secret = s3cr3t',
      'read = all',
      'write = all',
      '',
      `#include "${join(current, 'manager_mitschnitt.conf')}"`,
      'writetimeout = 200 ; continues [admin], the category before the include',
    ].join('\n'),
  );
  return { policy, load: () => loadConfig(join(etc, 'manager.conf'), etc) };
}

test.after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

test('channelvars land in [general] with exactly the contract list', () => {
  const config = pbx({ secret: 'A'.repeat(32) }).load();
  assert.is(retrieve(config, 'general', 'channelvars'), CHANNEL_VARS.join(','));
  assert.equal(retrieve(config, 'general', 'channelvars')!.split(','), [
    'MITSCHNITT_DECISION', 'MITSCHNITT_RULE', 'MITSCHNITT_MANUAL', 'MITSCHNITT_CALLER', 'MITSCHNITT_CALLEE',
    'MITSCHNITT_ORIGIN', 'MITSCHNITT_DIRECTION', 'MITSCHNITT_FILE', 'MITSCHNITT_MIXMON_ID', 'MDC_MON_MODE',
  ]);
  assert.is(retrieve(config, 'general', 'enabled'), 'yes', "the admin's [general] settings stay");
  assert.is(config.filter((c) => c.name === 'general').length, 1, 'appended, not a second [general] that manager.c would never read');
});

test("the AMI user gets the host-local secret, and the admin's file continues its own section after the include", () => {
  const config = pbx({ secret: 'Zm9vYmFyYmF6cXV4MTIzNDU2' }).load();
  assert.is(retrieve(config, 'mitschnitt', 'secret'), 'Zm9vYmFyYmF6cXV4MTIzNDU2');
  assert.is(retrieve(config, 'mitschnitt', 'displayconnects'), 'no');
  assert.is(retrieve(config, 'admin', 'writetimeout'), '200');
  assert.is(retrieve(config, 'mitschnitt', 'writetimeout'), '5000');
});

test('without the secret file the manager.conf still loads and the user has no secret (nobody can log in)', () => {
  const config = pbx().load();
  assert.is(retrieve(config, 'mitschnitt', 'secret'), undefined);
  assert.is(retrieve(config, 'mitschnitt', 'read'), AMI_READ);
});

test('a manager.conf without [general] is refused loudly, not silently misconfigured', () => {
  assert.throws(() => pbx({ general: false, secret: 'A'.repeat(32) }).load(), (e: unknown) => e instanceof ConfigError && /category 'general' does not exist/.test(e.message));
});

test('the ACL lets in loopback (IPv4 and IPv6) and nothing else', () => {
  const rules = aclRules(browse(pbx({ secret: 'A'.repeat(32) }).load(), 'mitschnitt'));
  assert.ok(aclAllows(rules, '127.0.0.1'));
  assert.ok(aclAllows(rules, '::1'));
  assert.not.ok(aclAllows(rules, '192.0.2.10'));
  assert.not.ok(aclAllows(rules, '10.0.0.1'));
  assert.not.ok(aclAllows(rules, '127.0.0.2'));
  assert.not.ok(aclAllows(rules, '2001:db8::1'));
  assert.not.ok(aclAllows(rules, '::ffff:192.0.2.10'));
});

test('an AMI host that is another local IP is permitted exactly, a hostname adds nothing', () => {
  const custom = aclRules(browse(pbx({ secret: 'A'.repeat(32), settings: { amiHost: '10.1.2.3' } }).load(), 'mitschnitt'));
  assert.ok(aclAllows(custom, '10.1.2.3'));
  assert.not.ok(aclAllows(custom, '10.1.2.4'));
  const named = aclRules(browse(pbx({ secret: 'A'.repeat(32), settings: { amiHost: 'localhost' } }).load(), 'mitschnitt'));
  assert.is(named.length, 4);
});

// Authority of the actions, from their registration in Asterisk (main/manager.c __init_manager, apps/app_mixmonitor.c).
const ACTIONS: Record<string, string[]> = {
  MixMonitor: ['system'],
  StopMixMonitor: ['system', 'call'],
  MixMonitorMute: ['system', 'call'],
  Getvar: ['call', 'reporting'],
  Setvar: ['call'],
  Status: ['system', 'call', 'reporting'],
  CoreShowChannels: ['system', 'reporting'],
  Originate: ['originate'],
  Command: ['command'],
  UpdateConfig: ['config'],
  UserEvent: ['user'],
};
// manager.c process_message: an action is allowed when the user's write classes and its authority share a flag.
const mayRun = (write: string, action: string) => ACTIONS[action]!.some((c) => write.split(',').includes(c));

test('write classes allow what the runtime does and not originate, CLI commands or config writes', () => {
  const write = retrieve(pbx({ secret: 'A'.repeat(32) }).load(), 'mitschnitt', 'write')!;
  assert.is(write, AMI_WRITE);
  for (const action of ['MixMonitor', 'StopMixMonitor', 'MixMonitorMute', 'Getvar', 'Setvar', 'Status', 'CoreShowChannels']) assert.ok(mayRun(write, action), action);
  for (const action of ['Originate', 'Command', 'UpdateConfig', 'UserEvent']) assert.not.ok(mayRun(write, action), action);
  assert.not.ok(write.split(',').includes('all'));
});

test('read classes carry the events the runtime needs: call, dialplan (VarSet), user (the record feature)', () => {
  const read = retrieve(pbx({ secret: 'A'.repeat(32) }).load(), 'mitschnitt', 'read')!.split(',');
  assert.equal(read.sort(), ['call', 'dialplan', 'user']);
});

test('the secret file content refuses values that would end the line or start a comment', () => {
  assert.is(amiSecretInclude('abcDEF0123456789+/='), 'secret = abcDEF0123456789+/=\n');
  for (const bad of ['short', `${'a'.repeat(20)};comment`, `${'a'.repeat(20)}\n[evil]`, `${'a'.repeat(20)} x`]) {
    assert.throws(() => amiSecretInclude(bad), (e: unknown) => e instanceof UnsafeValueError, bad);
  }
});

test('the secret never appears in out/: the generated file only names the host-local file', () => {
  const { policy } = pbx({ secret: 'NEVER-IN-OUT-0123456789' });
  const [file] = renderManager({ ruleSet: undefined as never, policy, host: sampleHost({}) });
  assert.not.match(String(file!.content), /NEVER-IN-OUT/);
  assert.match(String(file!.content), new RegExp(`#tryinclude "${amiSecretIncludePath(policy.settings)}"`));
});

test('an AMI user name that would be another section is refused', () => {
  assert.throws(() => renderManager({ ruleSet: undefined as never, policy: samplePolicy({ amiUser: 'general' }), host: sampleHost({}) }), (e: unknown) => e instanceof UnsafeValueError);
});

test('every value written into an Asterisk config passes the escaper, which refuses newlines and comments', () => {
  assert.is(asteriskConfEscape('/etc/mitschnitt/secrets/ami.manager.conf'), '/etc/mitschnitt/secrets/ami.manager.conf');
  for (const bad of ['a\n[evil]', 'a;b', 'a\rb', 'a\u0000']) assert.throws(() => asteriskConfEscape(bad), (e: unknown) => e instanceof UnsafeValueError, JSON.stringify(bad));
});

test('the bundled example matches its golden manager_mitschnitt.conf', () => {
  assertGolden(renderBundled(renderManager));
});

test.run();
