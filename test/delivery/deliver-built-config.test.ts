// End to end from the bundled rules: `mitschnitt build` writes policy.json and scripts/, and `mitschnitt deliver`
// run against that folder mails the recording and hands it to the bundled DMS script.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { cp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BUNDLED_RULES } from '../../bin/cli-support.ts';
import type { Policy } from '../../generator/policy.ts';
import { enqueueDelivery } from '../../runtime/delivery-queue.ts';
import { makeWorkspace, startSmtp, writeRecording } from './support.ts';

let ws: Awaited<ReturnType<typeof makeWorkspace>>;
let smtp: Awaited<ReturnType<typeof startSmtp>>;

test.before(async () => {
  ws = await makeWorkspace();
  smtp = await startSmtp({ auth: { user: 'mitschnitt@muster-gmbh.example', pass: 'geheim' } });
});
test.after(async () => {
  await smtp.close();
  await rm(ws.root, { recursive: true, force: true });
});

test('build → policy.json → deliver: mail with the rule’s name, bundled script copies into the DMS inbox', async () => {
  const rules = join(ws.root, 'rules');
  await cp(BUNDLED_RULES, rules, { recursive: true });
  const settings = JSON.parse(await readFile(join(rules, 'settings.json'), 'utf8'));
  Object.assign(settings, { spool: ws.spool, secretsDir: ws.secrets });
  Object.assign(settings.smtp, { host: '127.0.0.1', port: smtp.port, security: 'none' });
  await writeFile(join(rules, 'settings.json'), JSON.stringify(settings, null, 2));
  await writeFile(join(ws.secrets, 'smtp'), 'geheim\n');
  const out = join(ws.root, 'out');
  const build = spawnSync(process.execPath, ['bin/mitschnitt.js', 'build', '--rules', rules, '--out', out], { encoding: 'utf8' });
  assert.is(build.status, 0, build.stderr);

  const config = join(out, 'pbx-berlin');
  const policy = JSON.parse(await readFile(join(config, 'policy.json'), 'utf8')) as Policy;
  const mailRule = policy.rules['sales-external']!;
  const scriptRule = policy.rules['support-manual']!;
  const mailed = await writeRecording(ws.spool, { start: new Date('2026-11-24T09:00:00Z'), rule: mailRule.id, retentionDays: mailRule.retentionDays });
  await enqueueDelivery(ws.spool, { id: mailed.id, audio: mailed.audio, journal: mailed.journal, rule: mailRule.id, email: mailRule.deliver.email });
  const archived = await writeRecording(ws.spool, { start: new Date('2026-11-24T10:00:00Z'), rule: scriptRule.id });
  // policy.json names the script relative to the deployed folder (scripts/<name>), where build copied it.
  const script = join(config, scriptRule.deliver.script!);
  await enqueueDelivery(ws.spool, { id: archived.id, audio: archived.audio, journal: archived.journal, rule: scriptRule.id, script });

  const inbox = join(ws.root, 'dms inbox');
  // Asynchronously: the SMTP server runs in this process and must keep answering.
  const child = spawn(process.execPath, ['bin/mitschnitt.js', 'deliver', '--config', config], {
    env: { ...process.env, MITSCHNITT_DMS_INBOX: inbox },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.is(status, 0, output);
  assert.match(output, /"sent":2/);

  assert.is(smtp.received.length, 1);
  const mail = smtp.received[0]!;
  assert.equal(mail.envelopeTo, ['vertragsarchiv@muster-gmbh.example']);
  assert.match(mail.parsed.text ?? '', new RegExp(`Regel:\\s+${mailRule.name} \\(sales-external\\)`));
  assert.match(mail.parsed.text ?? '', /nach 180 Tagen gelöscht/);
  assert.ok(mail.parsed.attachments[0]!.content.equals(mailed.bytes));

  assert.equal((await readdir(inbox)).sort(), [`${archived.id}.json`, `${archived.id}.wav`]);
  assert.ok((await readFile(join(inbox, `${archived.id}.wav`))).equals(archived.bytes));
});

test.run();
