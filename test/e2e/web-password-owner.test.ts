// Seam between `mitschnitt user set-password` (run by the admin as root) and `mitschnitt serve` (systemd
// `User=mitschnitt`): the password file must belong to the account the service runs as, or no one can sign in.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './harness.ts';

const RUNTIME_UID = 65534; // stands for the `mitschnitt` system user deploy gives the AMI secret to
const work = mkdtempSync(join(tmpdir(), 'mitschnitt-pwowner-'));
const config = join(work, 'current');
const secrets = join(work, 'secrets');

test.before(async () => {
  const build = await cli(['build', '--out', join(work, 'out')]);
  assert.is(build.code, 0, build.stderr);
  mkdirSync(config);
  mkdirSync(secrets, { mode: 0o711 });
  const policy = JSON.parse(readFileSync(join(work, 'out/pbx-berlin/policy.json'), 'utf8'));
  policy.settings.secretsDir = secrets;
  writeFileSync(join(config, 'policy.json'), JSON.stringify(policy));
  writeFileSync(join(secrets, 'ami'), 'x'.repeat(64) + '\n', { mode: 0o600 });
  chownSync(join(secrets, 'ami'), RUNTIME_UID, RUNTIME_UID);
});

test.after(() => rmSync(work, { recursive: true, force: true }));

test('root sets a web password: web-users.json (0600) belongs to the runtime user that owns the AMI secret', async () => {
  if (process.getuid?.() !== 0) return; // ownership can only be given away by root
  const r = await cli(['user', 'set-password', 'anna', '--config', config, '--password-stdin'], { input: 'a-long-password\n' });
  assert.is(r.code, 0, r.stderr);
  const st = statSync(join(secrets, 'web-users.json'));
  assert.is(st.uid, RUNTIME_UID);
  assert.is(st.mode & 0o777, 0o600);
});

test('a second password keeps the file with the runtime user', async () => {
  if (process.getuid?.() !== 0) return;
  const r = await cli(['user', 'set-password', 'eva', '--config', config, '--password-stdin'], { input: 'another-password\n' });
  assert.is(r.code, 0, r.stderr);
  assert.is(statSync(join(secrets, 'web-users.json')).uid, RUNTIME_UID);
  assert.equal(Object.keys(JSON.parse(readFileSync(join(secrets, 'web-users.json'), 'utf8')).users), ['anna', 'eva']);
});

test.run();
