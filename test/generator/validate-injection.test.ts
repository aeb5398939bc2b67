// Every string that reaches a generated file (dialplan, manager.conf, crontab, SNOM XML, shell, paths) rejects
// injection-looking characters, placed before or after an otherwise valid value. Names are free text: they
// reject only control characters and are escaped where they are used.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateRules } from '../../generator/validate.ts';
import { materializeRules } from './materialize-rules.ts';

const PAYLOADS = ['\n', '\r', ';', ',', ')', '${X}', '$[1]', '<', '>', '&', '|', '%', '../', '`id`', "'", '"', ' ', '\\', '#', '\t', '\u0000', '\u2028'];
const CONTROL = ['\n', '\r', '\t', '\u0000', '\u001b', '\u007f', '\u0085', '\u2028', '\u2029', '\u202e'];

/** [file, JSON pointer, a valid value, payloads that are part of the field's own syntax]: strict fields take only a tight pattern. */
const STRICT: [string, string, string, string[]?][] = [
  ['users.json', '/users/0/id', 'anna'],
  ['users.json', '/users/0/ext', '201'],
  ['users.json', '/users/0/email', 'anna.berger@muster-gmbh.example'],
  ['users.json', '/users/0/host', 'pbx-berlin'],
  ['users.json', '/users/0/phones/0/mac', '00:04:13:2a:3b:01'],
  ['users.json', '/users/0/phones/0/model', 'D785'],
  ['users.json', '/users/2/phones/0/ip', '192.0.2.31'],
  ['teams.json', '/teams/0/id', 'sales'],
  ['teams.json', '/teams/0/ext', '600'],
  ['teams.json', '/teams/0/host', 'pbx-berlin'],
  ['teams.json', '/teams/0/members/0', 'anna'],
  ['roles.json', '/roles/0/id', 'sales-staff'],
  ['roles.json', '/roles/0/members/0', 'sales'],
  ['roles.json', '/roles/2/canView/0', 'sales-staff'],
  ['rules.json', '/rules/0/id', 'sales-external'],
  ['rules.json', '/rules/0/role', 'sales-staff'],
  ['rules.json', '/rules/0/announcement', 'custom/recording-notice'],
  ['rules.json', '/rules/0/deliver/email/0', 'vertragsarchiv@muster-gmbh.example'],
  ['rules.json', '/rules/1/deliver/script', 'scripts/archive-to-dms.sh'],
  ['hosts.json', '/hosts/0/name', 'pbx-berlin'],
  ['hosts.json', '/hosts/0/address', 'pbx-berlin.muster-gmbh.example'],
  ['hosts.json', '/hosts/0/user', 'deploy'],
  ['hosts.json', '/hosts/0/asteriskDir', '/etc/asterisk'],
  ['hosts.json', '/hosts/0/dir', '/etc/mitschnitt'],
  ['hosts.json', '/hosts/0/hostKey', 'SHA256:q3Xh1C0yGQ8lV0m7n4oKcZbq2t9dWbA6l0pYfJmR1sE'],
  ['hosts.json', '/hosts/0/url', 'http://pbx-berlin.muster-gmbh.example:8484'],
  ['settings.json', '/spool', '/var/spool/asterisk/mitschnitt'],
  ['settings.json', '/secretsDir', '/etc/mitschnitt/secrets'],
  ['settings.json', '/deliverySchedule', '0 20 * * 1-5', [',', ' ']],
  ['settings.json', '/retentionSchedule', '30 3 * * *', [',', ' ']],
  ['settings.json', '/http/listen', '0.0.0.0:8484'],
  ['settings.json', '/ami/host', '127.0.0.1'],
  ['settings.json', '/ami/user', 'mitschnitt'],
  ['settings.json', '/ami/secret', 'ami'],
  ['settings.json', '/smtp/host', 'mail.muster-gmbh.example'],
  ['settings.json', '/smtp/user', 'mitschnitt@muster-gmbh.example'],
  ['settings.json', '/smtp/password', 'smtp'],
  ['settings.json', '/smtp/from', 'mitschnitt@muster-gmbh.example'],
  ['settings.json', '/recordKey/featureCode', '*1', ['#']],
];
const NAMES: [string, string, string][] = [
  ['users.json', '/users/0/name', 'Anna Berger'],
  ['teams.json', '/teams/0/name', 'Vertrieb'],
  ['roles.json', '/roles/0/name', 'Vertrieb'],
  ['rules.json', '/rules/0/name', 'Vertrieb extern'],
  ['settings.json', '/recordKey/label', 'Aufnahme'],
];

/** One copy of the bundled rules; each variant rewrites one file and the next restores it. */
const rules = materializeRules({});
const original = new Map<string, string>();

function validateWith(file: string, pointer: string, value: string) {
  const path = join(rules.dir, file);
  if (!original.has(file)) original.set(file, readFileSync(path, 'utf8'));
  const data = JSON.parse(original.get(file)!) as Record<string, unknown>;
  const keys = pointer.split('/').slice(1);
  let node = data as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
  node[keys[keys.length - 1]!] = value;
  writeFileSync(path, JSON.stringify(data, null, 2));
  try {
    return validateRules(rules.dir);
  } finally {
    writeFileSync(path, original.get(file)!);
  }
}

for (const [file, pointer, valid, own = []] of STRICT) {
  test(`${file} ${pointer} rejects injection-looking characters`, () => {
    const base = validateWith(file, pointer, valid);
    assert.ok(base.ok, `the valid value ${JSON.stringify(valid)} must pass: ${JSON.stringify(base.errors)}`);
    for (const payload of PAYLOADS.filter((p) => !own.includes(p))) {
      for (const value of [valid + payload, payload + valid, valid.slice(0, 1) + payload + valid.slice(1)]) {
        const result = validateWith(file, pointer, value);
        assert.not.ok(result.ok, `${JSON.stringify(value)} must be rejected`);
        assert.ok(
          result.errors.some((e) => e.file === file && e.pointer === pointer),
          `${JSON.stringify(value)}: error at ${file} ${pointer} expected, got ${JSON.stringify(result.errors)}`,
        );
      }
    }
  });
}

for (const [file, pointer, valid] of NAMES) {
  test(`${file} ${pointer} is free text but rejects control characters`, () => {
    for (const payload of PAYLOADS.filter((p) => !CONTROL.includes(p))) {
      const result = validateWith(file, pointer, `${valid}${payload}`);
      assert.ok(result.ok, `${JSON.stringify(valid + payload)} is a valid name: ${JSON.stringify(result.errors)}`);
    }
    for (const control of CONTROL) {
      const result = validateWith(file, pointer, `${valid}${control}x`);
      assert.not.ok(result.ok, `${JSON.stringify(valid + control)} must be rejected`);
      assert.ok(result.errors.some((e) => e.file === file && e.pointer === pointer), JSON.stringify(result.errors));
    }
  });
}

test.after(() => rules.cleanup());
test.run();
