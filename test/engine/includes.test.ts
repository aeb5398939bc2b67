// The generated manager, features and extensions includes in a stock-like Asterisk: they load and reload, the
// runtime's AMI account logs in with the secret deploy creates, and its rights are exactly what the runtime needs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AMI_EVENTS } from '../../generator/render-manager.ts';
import { connectAmi, type TestAmi } from './asterisk-instance.ts';
import { startEnginePbx, type EnginePbx } from './engine-pbx.ts';

let pbx: EnginePbx;
let runtimeAmi: TestAmi;

test.before(async () => {
  pbx = await startEnginePbx();
  const secret = readFileSync(join(pbx.secretsDir, 'ami'), 'utf8').trim();
  runtimeAmi = await connectAmi(pbx.ast.amiPort, pbx.policy.settings.ami.user, secret);
});
test.after(async () => {
  runtimeAmi?.close();
  await pbx?.stop();
});

test('the dialplan include is loaded: dialplan show version@mitschnitt-check names the file\'s version', async () => {
  const file = readFileSync(join(pbx.config, 'asterisk/extensions_mitschnitt.conf'), 'utf8');
  const version = /NoOp\(mitschnitt ([0-9a-f]{16})\)/.exec(file)![1]!;
  assert.match(await pbx.ast.cli('dialplan show version@mitschnitt-check'), version);
  assert.match(await pbx.ast.cli('dialplan reload'), /Dialplan reloaded/);
  assert.match(await pbx.ast.cli('dialplan show version@mitschnitt-check'), version);
});

test('manager reload and module reload features succeed with the includes, and the feature is there', async () => {
  const mark = pbx.ast.logMark();
  assert.is((await pbx.ast.cli('manager reload')).trim(), '');
  assert.match(await pbx.ast.cli('module reload features'), /reloaded successfully/);
  assert.match(await pbx.ast.cli('features show'), /mitschnitt-record\s+no def\s+\*1/);
  assert.not.match(pbx.ast.logSince(mark), /ERROR.*(manager|features|mitschnitt)/);
  const settings = await pbx.ast.cli('manager show settings');
  for (const v of ['MITSCHNITT_DECISION', 'MITSCHNITT_MIXMON_ID', 'MITSCHNITT_FILE', 'MDC_MON_MODE']) assert.match(settings, v, `channelvars has ${v}`);
});

test('the runtime account logs in with the deployed secret and not with a wrong one; it is bound to loopback', async () => {
  assert.ok((await runtimeAmi.action('Ping')).ok);
  const err = await connectAmi(pbx.ast.amiPort, pbx.policy.settings.ami.user, 'wrong-secret').then(
    () => 'logged in',
    (e: Error) => e.message,
  );
  assert.match(err, /Authentication failed/);
  const user = await pbx.ast.cli(`manager show user ${pbx.policy.settings.ami.user}`);
  assert.match(user, /127\.0\.0\.1/);
});

test('the runtime account gets only the events it tracks: its own VarSets, no Newexten or device states', async () => {
  const since = runtimeAmi.events.length;
  const admin = await pbx.ast.ami();
  const adminSince = admin.events.length;
  await admin.action('Originate', { Channel: 'Local/0301234567@from-internal/n', Application: 'Wait', Data: '1', Async: 'true', CallerID: '<201>' });
  await runtimeAmi.waitFor((m) => m.event === 'Hangup', 10_000, 'the call to end', since);
  await new Promise((r) => setTimeout(r, 300));
  const got = runtimeAmi.events.slice(since);
  const kinds = new Set(got.map((m) => m.event ?? ''));
  for (const k of ['Newchannel', 'Newstate', 'VarSet', 'MixMonitorStart', 'Hangup']) assert.ok(kinds.has(k), `${k} reaches the runtime`);
  assert.equal([...kinds].filter((k) => !(AMI_EVENTS as readonly string[]).includes(k) && k !== 'VarSet'), [], 'nothing but the listed events');
  const variables = new Set(got.filter((m) => m.event === 'VarSet').map((m) => m.get('Variable')!));
  assert.ok(variables.has('__MITSCHNITT_DECISION') && variables.has('MITSCHNITT_FILE'), `the routine's variables reach it: ${[...variables]}`);
  assert.equal([...variables].filter((v) => !/^_{0,2}(MITSCHNITT_|MDC_MON_MODE$|MIXMONITOR_FILENAME$)/.test(v)), [], 'no other VarSet');
  const adminKinds = new Set(admin.events.slice(adminSince).map((m) => m.event ?? ''));
  assert.ok(adminKinds.has('Newexten'), 'Asterisk does send Newexten to an account without the filter');
  assert.ok([...adminKinds].filter((k) => !(AMI_EVENTS as readonly string[]).includes(k)).length > 2, `and other events: ${[...adminKinds]}`);
  const adminVars = admin.events.slice(adminSince).filter((m) => m.event === 'VarSet').map((m) => m.get('Variable'));
  assert.ok(adminVars.some((v) => !/MITSCHNITT_|MDC_MON_MODE|MIXMONITOR_FILENAME/.test(v ?? '')), 'and the dialplan sets other variables');
});

test('its rights: what the runtime uses is allowed; Originate, Command and config writes are refused', async () => {
  // A call to act on: Local channel waiting in the echo application.
  const admin = await pbx.ast.ami();
  const r = await admin.action('Originate', { Channel: 'Local/0301234567@to-carrier/n', Application: 'Wait', Data: '10', Async: 'true' });
  assert.ok(r.ok);
  const channel = (await admin.waitFor((m) => m.event === 'Newchannel' && (m.get('Channel') ?? '').includes(';2'))).get('Channel')!;
  const allowed: [string, Record<string, string>][] = [
    ['Ping', {}],
    ['CoreShowChannels', {}],
    ['Getvar', { Channel: channel, Variable: 'MITSCHNITT_DECISION' }],
    ['Setvar', { Channel: channel, Variable: 'MITSCHNITT_FILE', Value: '/tmp/x.wav' }],
    ['MixMonitor', { Channel: channel, File: `${pbx.spool}/probe.wav`, Options: 'bi(MITSCHNITT_MIXMON_ID)' }],
    ['MixMonitorMute', { Channel: channel, Direction: 'both', State: '1' }],
    ['StopMixMonitor', { Channel: channel }],
  ];
  for (const [action, fields] of allowed) {
    const a = await runtimeAmi.action(action, fields);
    assert.not.match(a.message.get('Message') ?? '', /Permission denied/i, `${action} must be allowed`);
    assert.ok(a.ok, `${action}: ${a.message.get('Message')}`);
  }
  const refused: [string, Record<string, string>][] = [
    ['Originate', { Channel: 'Local/201@from-internal', Application: 'Wait', Data: '1' }],
    ['Command', { Command: 'core show version' }],
    ['UpdateConfig', { SrcFilename: 'extensions.conf', DstFilename: 'extensions.conf', Reload: 'yes', 'Action-000000': 'Append', 'Cat-000000': 'x', 'Var-000000': 'y', 'Value-000000': 'z' }],
  ];
  for (const [action, fields] of refused) {
    const a = await runtimeAmi.action(action, fields);
    assert.not.ok(a.ok, `${action} must be refused`);
    assert.match(a.message.get('Message') ?? '', /Permission denied/i, action);
  }
  // What Asterisk's `system` class (needed for the MixMonitor action) lets the account do besides: README says so.
  const wider: [string, Record<string, string>][] = [
    ['GetConfig', { Filename: 'extensions.conf' }],
    ['Redirect', { Channel: channel, Context: 'to-carrier', Exten: '0301234567', Priority: '2' }],
    ['Hangup', { Channel: channel }],
  ];
  for (const [action, fields] of wider) assert.not.match((await runtimeAmi.action(action, fields)).message.get('Message') ?? '', /Permission denied/i, action);
});

test.run();
