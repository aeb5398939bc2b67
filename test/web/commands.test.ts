import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpServer } from '../../runtime/http-server.ts';
import { silentLogger } from '../../runtime/log.ts';
import { AuditLog, auditLogPath } from '../../runtime/web/audit-log.ts';
import { verifyPassword } from '../../runtime/web/password-hash.ts';
import { createWebClient } from '../../runtime/web/routes.ts';
import { MemoryCallControl, testPolicy } from './support.ts';

const dir = mkdtempSync(join(tmpdir(), 'mitschnitt-web-cmd-'));
const config = join(dir, 'current');
const spool = join(dir, 'spool');
const secrets = join(dir, 'secrets');
mkdirSync(config, { recursive: true });
mkdirSync(spool, { recursive: true });
const policy = testPolicy(spool, secrets);
writeFileSync(join(config, 'policy.json'), JSON.stringify(policy));
const usersFile = join(secrets, 'web-users.json');

function cli(args: string[], input?: string) {
  return spawnSync(process.execPath, ['bin/mitschnitt.js', ...args], { encoding: 'utf8', input: input ?? '' });
}

test('user set-password stores a scrypt hash (mode 0600) that verifies; the password is never in the file', async () => {
  const r = cli(['user', 'set-password', 'anna', '--config', config, '--password-stdin'], 'correct horse battery\n');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /anna/);
  assert.is(statSync(usersFile).mode & 0o777, 0o600);
  const text = readFileSync(usersFile, 'utf8');
  assert.not.match(text, /horse/);
  const stored = JSON.parse(text).users.anna.hash as string;
  assert.match(stored, /^scrypt\$ln=15,r=8,p=1\$/);
  assert.ok(await verifyPassword('correct horse battery', stored), 'the trailing newline is not part of the password');
  assert.not.ok(await verifyPassword('correct horse battery\n', stored));
});

test('a second user is added without touching the first; stdin that is not a terminal is read without the flag', () => {
  const before = JSON.parse(readFileSync(usersFile, 'utf8')).users.anna;
  const r = cli(['user', 'set-password', 'ben', '--config', config], 'ben-password-1');
  assert.is(r.status, 0, r.stderr);
  const after = JSON.parse(readFileSync(usersFile, 'utf8')).users;
  assert.equal(after.anna, before);
  assert.ok(after.ben.hash);
});

/**
 * Runs `user set-password` on a real pseudo-terminal (util-linux `script`, essential on Debian) and types
 * `typed` after the first prompt appears; returns the exit status and everything the terminal showed.
 */
function onTerminal(user: string, typed: string[]): Promise<{ status: number | null; screen: string }> {
  const command = `${process.execPath} bin/mitschnitt.js user set-password ${user} --config ${config}`;
  const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  let sent = false;
  const onOutput = (chunk: Buffer) => {
    screen += chunk.toString();
    if (!sent && screen.includes('New web password')) {
      sent = true;
      for (const part of typed) child.stdin.write(part);
    }
  };
  child.stdout.on('data', onOutput);
  child.stderr.on('data', onOutput);
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, screen })));
}

test('on a terminal the password is asked twice and never echoed; a paste of both lines works; a mismatch changes nothing', async () => {
  const typed = await onTerminal('carla', ['tty-password-1\r', 'tty-password-1\r']);
  assert.is(typed.status, 0, typed.screen);
  assert.match(typed.screen, /Repeat it/);
  assert.not.match(typed.screen, /tty-password-1/, 'no echo');
  assert.ok(await verifyPassword('tty-password-1', JSON.parse(readFileSync(usersFile, 'utf8')).users.carla.hash));
  const pasted = await onTerminal('eva', ['pasted-password-2\rpasted-password-2\r']);
  assert.is(pasted.status, 0, pasted.screen);
  assert.ok(await verifyPassword('pasted-password-2', JSON.parse(readFileSync(usersFile, 'utf8')).users.eva.hash));
  const before = readFileSync(usersFile, 'utf8');
  const mismatch = await onTerminal('frank', ['one-password-3\r', 'other-password-3\r']);
  assert.is(mismatch.status, 1);
  assert.match(mismatch.screen, /differ, nothing changed/);
  assert.is(readFileSync(usersFile, 'utf8'), before);
});

test('refusals: unknown user and short password exit 1 and change nothing; usage mistakes exit 2', () => {
  const before = readFileSync(usersFile, 'utf8');
  const unknown = cli(['user', 'set-password', 'mallory', '--config', config, '--password-stdin'], 'whatever-long');
  assert.is(unknown.status, 1);
  assert.match(unknown.stderr, /no user 'mallory'.*anna, ben, carla, eva, frank/);
  const short = cli(['user', 'set-password', 'carla', '--config', config, '--password-stdin'], 'short');
  assert.is(short.status, 1);
  assert.match(short.stderr, /at least 8/);
  assert.is(readFileSync(usersFile, 'utf8'), before);
  assert.is(cli(['user']).status, 2);
  assert.is(cli(['user', 'set-password', '--config', config]).status, 2);
  assert.is(cli(['user', 'frobnicate']).status, 2);
  const noConfig = cli(['user', 'set-password', 'anna', '--config', join(dir, 'nope'), '--password-stdin'], 'long-enough-pw');
  assert.is(noConfig.status, 1);
  assert.match(noConfig.stderr, /cannot read .*policy\.json/);
  assert.not.match(noConfig.stderr, /\n\s+at /, 'no stack trace');
});

test('a damaged web-users.json is reported, not overwritten', () => {
  const other = mkdtempSync(join(tmpdir(), 'mitschnitt-web-cmd-bad-'));
  const otherSecrets = join(other, 'secrets');
  mkdirSync(otherSecrets);
  writeFileSync(join(otherSecrets, 'web-users.json'), '{"version":1,"users":{"anna":');
  mkdirSync(join(other, 'current'));
  writeFileSync(join(other, 'current', 'policy.json'), JSON.stringify(testPolicy(spool, otherSecrets)));
  const r = cli(['user', 'set-password', 'anna', '--config', join(other, 'current'), '--password-stdin'], 'long-enough-pw');
  assert.is(r.status, 1);
  assert.match(r.stderr, /not valid JSON.*nothing changed/);
  assert.is(readFileSync(join(otherSecrets, 'web-users.json'), 'utf8'), '{"version":1,"users":{"anna":');
});

test('a password set with the command signs in to the web client; the old one stops working after a change', async () => {
  const web = createWebClient({ policy, log: silentLogger, calls: new MemoryCallControl(), rescanIntervalMs: 0 });
  const server = createHttpServer(web.routes, silentLogger);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const signIn = (password: string) =>
    fetch(`${base}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: 'anna', password }) }).then((r) => r.status);
  try {
    assert.is(await signIn('correct horse battery'), 200);
    assert.is(cli(['user', 'set-password', 'anna', '--config', config, '--password-stdin'], 'new-password-2').status, 0);
    assert.is(await signIn('correct horse battery'), 401);
    assert.is(await signIn('new-password-2'), 200);
  } finally {
    web.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('audit prints the log as a table or JSON, filtered by user and time', async () => {
  const log = new AuditLog(auditLogPath(spool));
  await log.append({ user: 'anna', action: 'play', recording: '1764000000.11-1764000000', ip: '127.0.0.1', result: 'ok' }, new Date('2026-11-24T09:00:00Z'));
  await log.append({ user: 'ben', action: 'download', recording: '1764000300.14-1764000300', ip: '192.0.2.7', result: 'ok' }, new Date('2026-11-25T09:00:00Z'));
  await log.append({ user: 'carla', action: 'record-start', call: '1764100000.31', ip: '192.0.2.8', result: 'not-allowed' }, new Date('2026-11-25T10:00:00Z'));
  const all = cli(['audit', '--config', config]);
  assert.is(all.status, 0, all.stderr);
  const lines = all.stdout.trim().split('\n').filter((l) => /^2026-11-2[45]T09|^2026-11-25T10/.test(l));
  assert.is(lines.length, 3);
  assert.match(lines[2], /carla\s+record-start\s+call=1764100000\.31\s+192\.0\.2\.8\s+not-allowed/);
  const json = cli(['audit', '--config', config, '--json', '--user', 'ben']);
  assert.equal(json.stdout.trim().split('\n').map((l) => JSON.parse(l)), [
    { time: '2026-11-25T09:00:00.000Z', user: 'ben', action: 'download', recording: '1764000300.14-1764000300', ip: '192.0.2.7', result: 'ok' },
  ]);
  const since = cli(['audit', '--config', config, '--json', '--since', '2026-11-25T09:30:00Z']);
  const after = since.stdout.trim().split('\n').map((l) => JSON.parse(l) as { user: string; time: string });
  assert.ok(after.some((e) => e.user === 'carla'));
  assert.not.ok(after.some((e) => e.user === 'ben' || e.time < '2026-11-25T09:30:00Z'));
  assert.is(cli(['audit', '--config', config, '--since', 'last tuesday']).status, 2);
});

test('audit: a damaged line is reported (exit 1) after printing the readable ones; a missing log is not an error', () => {
  appendFileSync(auditLogPath(spool), '{"time":"2026-11-25T11:00:00Z","user":"eva"\n');
  const r = cli(['audit', '--config', config, '--json']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /1 unreadable line/);
  assert.ok(r.stdout.trim().split('\n').length >= 3);
  const empty = mkdtempSync(join(tmpdir(), 'mitschnitt-web-cmd-empty-'));
  mkdirSync(join(empty, 'current'));
  writeFileSync(join(empty, 'current', 'policy.json'), JSON.stringify(testPolicy(join(empty, 'spool'), secrets)));
  const none = cli(['audit', '--config', join(empty, 'current')]);
  assert.is(none.status, 0);
  assert.match(none.stderr, /no audit log yet/);
});

test.run();
