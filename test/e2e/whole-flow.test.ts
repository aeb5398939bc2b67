// The whole product as an admin runs it: a git repository of rules → validate → build → plan → deploy (real sshd,
// stand-in asterisk/systemctl) → `serve` from the DEPLOYED folder with the AMI secret deploy created → calls whose
// variables and MixMonitor come from running the deployed dialplan in the interpreter, replayed through the fake
// Asterisk → journals, web API rights, the SNOM record key, the DTMF feature, `deliver` (real SMTP, the DMS script),
// `expire`, `capacity`, a restart mid-call, a redeploy to wav49. Every hand-off between the parts is asserted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleGit } from 'simple-git';
import { BUNDLED_RULES } from '../../bin/cli-support.ts';
import type { Journal } from '../../runtime/journal.ts';
import { verifyChain } from '../../runtime/journal-verify.ts';
import { startPbx, type Pbx } from '../deploy/pbx-fixture.ts';
import { Channel, Pbx as Dialplan } from '../dialplan/interpreter/pbx.ts';
import { FakeAmiServer, type PhoneSpec } from '../support/fake-ami-server.ts';
import { freePort, keygen } from '../support/sshd.ts';
import { cli, initRulesRepo, REPO_ROOT, Service, startMailbox, type Mailbox } from './harness.ts';
import { AMI_EVENTS, AMI_VARSET_PATTERN } from '../../generator/render-manager.ts';
import { waitFor } from '../support/wait-for.ts';

const work = mkdtempSync(join(tmpdir(), 'mitschnitt-e2e-'));
const repo = join(work, 'repo');
const rules = join(repo, 'rules');
const out = join(work, 'out');
const key = join(work, 'deploy_key');
const spool = join(work, 'spool');
const secretsDir = join(work, 'secrets');
const dmsInbox = join(work, 'dms-inbox');
const cronDir = join(work, 'cron.d');
const systemdDir = join(work, 'systemd');
const HOST = 'pbx-berlin';
const CLOCK_2099 = join(REPO_ROOT, 'test/e2e/clock-2099.mjs');
const PASSWORDS: Record<string, string> = { david: 'david-pw-1234', ben: 'ben-pw-12345', anna: 'anna-pw-1234', eva: 'eva-pw-12345', frank: 'frank-pw-123', carla: 'carla-pw-123' };

let pbx: Pbx;
let mailbox: Mailbox;
let fake: FakeAmiServer | undefined;
let serve: Service | undefined;
let amiPort = 0;
let httpPort = 0;
let config = '';
let annaJournal = '';
let carlaJournal = '';
let teamJournal = '';
let davidJournal = '';

const readJson = <T = Record<string, unknown>>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
const writeJson = (path: string, value: unknown) => writeFileSync(path, JSON.stringify(value, null, 2) + '\n');

function journals(): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory() && e.name !== '.mitschnitt') walk(join(d, e.name));
      else if (e.name.endsWith('.json')) found.push(join(d, e.name));
    }
  };
  walk(spool);
  return found.sort();
}

/** The cron line's command for a job (the part after the user field), as argv without `mitschnitt`. */
function cronCommand(job: 'deliver' | 'expire' | 'verify'): string[] {
  const cron = readFileSync(join(config, 'cron/mitschnitt'), 'utf8');
  const line = cron.split('\n').find((l) => !l.startsWith('#') && l.includes(` ${job} `));
  assert.ok(line, `cron file has a ${job} line`);
  const command = line!.split(/\s+/).slice(6).join(' ').split('|')[0]!.replace(/2>&1/, '').trim().split(/\s+/);
  assert.is(command[0], 'mitschnitt', line);
  return command.slice(1);
}

/** The admin's rule repository: the bundled company on one host pointing at the test PBX and test servers. */
function writeRules(smtpPort: number): void {
  cpSync(BUNDLED_RULES, rules, { recursive: true });
  cpSync(join(REPO_ROOT, 'schema'), join(repo, 'schema'), { recursive: true });
  const h = pbx.host;
  writeJson(join(rules, 'hosts.json'), {
    $schema: '../schema/hosts.schema.json',
    hosts: [{ name: HOST, address: h.address, port: h.port, user: 'root', hostKey: h.hostKey, dir: h.dir, asteriskDir: h.asteriskDir }],
  });
  const settings = readJson(join(rules, 'settings.json'));
  writeJson(join(rules, 'settings.json'), {
    ...settings,
    spool,
    secretsDir,
    http: { listen: `127.0.0.1:${httpPort}` },
    ami: { host: '127.0.0.1', port: amiPort },
    smtp: { ...(settings.smtp as object), host: '127.0.0.1', port: smtpPort, security: 'none' },
  });
  // One host: every user lives on it (frank too, so "frank may not see it" is a real check, not an absent user);
  // Carla's phone is registered from where the test's HTTP requests come from.
  const users = readJson<{ users: { host?: string; phones: { ip?: string }[] }[] }>(join(rules, 'users.json'));
  for (const u of users.users) {
    delete u.host;
    for (const p of u.phones) if (p.ip) p.ip = '127.0.0.1';
  }
  writeJson(join(rules, 'users.json'), users);
}

/**
 * One call as Asterisk would run it: the admin's dialplan calls `Gosub(mitschnitt-check,s,1(CALLER,CALLEE))` on
 * the caller's channel; the deployed dialplan runs in the interpreter on a channel with the fake's next uniqueid,
 * and what it left (variables with their inheritance prefix, MixMonitor file and options) is replayed on the
 * fake Asterisk's channel.
 */
function dialplanCall(from: PhoneSpec, to: PhoneSpec): { caller: string; callee: string; decision: string; file: string | null } {
  const uniqueid = fake!.nextUniqueid();
  const chan = new Channel(`${from.endpoint}-00000001`, from.number, uniqueid);
  const now = Number(uniqueid.split('.')[0]);
  const run = new Dialplan(readFileSync(join(config, 'asterisk/extensions_mitschnitt.conf'), 'utf8'), {
    now: () => now,
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  }).callRoutine(chan, 'mitschnitt-check', 's', 1, [from.number, to.number]);
  assert.not.ok(run.hangup, run.hangup);
  const vars: Record<string, string> = {};
  for (const v of [...chan.vars].reverse()) if (v.key.startsWith('MITSCHNITT_') && v.key !== 'MITSCHNITT_MIXMON_ID') vars[v.name] = v.value;
  const [mm] = chan.mixMonitors();
  const handle = fake!.call({ from, to, vars, ...(mm ? { record: { file: mm.file, options: mm.options } } : {}) });
  return { caller: handle.caller, callee: handle.callee, decision: run.retval ?? '', file: mm?.file ?? null };
}

async function signIn(user: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/api/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user, password: PASSWORDS[user] }),
  });
  assert.is(res.status, 200, `${user} signs in`);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

async function recordingIds(user: string): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/api/recordings`, { headers: { cookie: await signIn(user) } });
  assert.is(res.status, 200);
  const body = (await res.json()) as { rows: { id: string }[] };
  return body.rows.map((r) => r.id);
}

test.before(async () => {
  keygen(key);
  for (const d of [spool, secretsDir, dmsInbox, cronDir, systemdDir]) mkdirSync(d, { recursive: true });
  [pbx, mailbox, amiPort, httpPort] = await Promise.all([startPbx('e2e', { clientKeyPath: key }), startMailbox(), freePort(), freePort()]);
  writeRules(mailbox.port);
  await initRulesRepo(repo, 'rules for the e2e company');
  config = join(pbx.host.dir, 'current');
});

test.after(async () => {
  await serve?.stop();
  await fake?.stop();
  await mailbox?.close();
  await pbx?.stop();
  rmSync(work, { recursive: true, force: true });
});

test('validate → build → plan (changes) → deploy: the host holds the release, the AMI secret and the cron/systemd files', async () => {
  const validate = await cli(['validate', '--rules', rules], { cwd: repo });
  assert.is(validate.code, 0, validate.stdout + validate.stderr);

  const build = await cli(['build', '--rules', rules, '--out', out], { cwd: repo });
  assert.is(build.code, 0, build.stdout + build.stderr);
  const manifest = readJson<{ host: string; files: Record<string, unknown> }>(join(out, HOST, 'manifest.json'));
  assert.is(manifest.host, HOST);
  assert.ok(manifest.files['asterisk/extensions_mitschnitt.conf']);

  const ssh = ['--identity', key, '--rules', rules, '--out', out];
  const plan = await cli(['plan', ...ssh], { cwd: repo });
  assert.is(plan.code, 3, plan.stdout + plan.stderr);
  assert.match(plan.stdout, `host ${HOST}: nothing deployed yet`);

  const deploy = await cli(['deploy', ...ssh, '--cron-dir', cronDir, '--systemd-dir', systemdDir], { cwd: repo });
  assert.is(deploy.code, 0, deploy.stdout + deploy.stderr);
  assert.ok(existsSync(join(config, 'policy.json')), 'deployed to <dir>/current');
  assert.match(readFileSync(join(pbx.state, 'dialplan.loaded'), 'utf8'), '[mitschnitt-check]');
  assert.ok(existsSync(join(cronDir, 'mitschnitt')), 'cron file installed');
  assert.ok(existsSync(join(systemdDir, 'mitschnitt.service')), 'systemd unit installed');
  const secret = readFileSync(join(secretsDir, 'ami'), 'utf8').trim();
  assert.ok(secret.length >= 16, 'deploy created an AMI secret on the host');
  // Asterisk reads the same secret from the generated manager include.
  assert.match(readFileSync(join(config, 'asterisk/manager_mitschnitt.conf'), 'utf8'), /channelvars = MITSCHNITT_DECISION/);

  const again = await cli(['plan', ...ssh], { cwd: repo });
  assert.is(again.code, 0, again.stdout + again.stderr);
});

test('serve runs from the deployed folder with the unit\'s command line and logs into the fake Asterisk', async () => {
  const unit = readFileSync(join(systemdDir, 'mitschnitt.service'), 'utf8');
  const exec = /^ExecStart=(.*)$/m.exec(unit)![1]!.trim().split(/\s+/);
  assert.is(exec[0], 'mitschnitt');
  assert.equal(exec.slice(1), ['serve', '--config', config], 'the unit runs serve on the deployed folder');
  const cron = readFileSync(join(cronDir, 'mitschnitt'), 'utf8');
  assert.match(cron, ` deliver --config ${config}`);
  assert.match(cron, ` expire --config ${config}`);

  const secret = readFileSync(join(secretsDir, 'ami'), 'utf8').trim();
  const policy = readJson<{ settings: { ami: { user: string }; smtp: { password: string } } }>(join(config, 'policy.json'));
  fake = new FakeAmiServer({
    username: policy.settings.ami.user,
    secret,
    loginFailureDelayMs: 20,
    eventFilter: { events: AMI_EVENTS, varSet: AMI_VARSET_PATTERN },
    channelvars: /channelvars = (.*)/.exec(readFileSync(join(config, 'asterisk/manager_mitschnitt.conf'), 'utf8'))![1]!.split(','),
  });
  await fake.start(amiPort);
  writeFileSync(join(secretsDir, policy.settings.smtp.password), 'smtp-secret\n');
  for (const user of Object.keys(PASSWORDS)) {
    const r = await cli(['user', 'set-password', user, '--config', config, '--password-stdin'], { input: `${PASSWORDS[user]}\n` });
    assert.is(r.code, 0, r.stdout + r.stderr);
  }
  serve = new Service(exec.slice(1));
  await waitFor('AMI resync', () => serve!.logged('AMI resync done').length > 0 || !serve!.running);
  assert.ok(serve.running, JSON.stringify(serve.lines));
  assert.is(serve.garbage.length, 0, serve.garbage.join('\n'));
  assert.ok(new Dialplan(readFileSync(join(config, 'asterisk/extensions_mitschnitt.conf'), 'utf8')).contexts.has('mitschnitt-check'));
});

test('Anna\'s external call is recorded automatically: journal with rule and parties, visible to anna and eva, not frank', async () => {
  const call = dialplanCall({ endpoint: 'PJSIP/201', number: '201', callId: 'anna-call-1@192.0.2.10' }, { endpoint: 'PJSIP/trunk', number: '030123456', name: 'Kunde' });
  assert.is(call.decision, 'auto');
  assert.ok(call.file!.startsWith(spool + '/'), call.file!);
  fake!.advance(3);
  fake!.hangup(call.caller);
  [annaJournal] = await waitFor('Anna\'s journal', () => (journals().length === 1 ? journals() : null));
  const j = readJson<Journal>(annaJournal);
  assert.is(j.audio, call.file!.split('/').pop());
  assert.is(j.rule, 'sales-external');
  assert.is(j.decision, 'auto');
  assert.is(j.direction, 'outbound');
  assert.is(j.origin, 'external');
  assert.is(j.caller.number, '201');
  assert.is(j.caller.userId, 'anna');
  assert.is(j.callee.number, '030123456');
  assert.is(j.durationSeconds, 3);
  assert.is(j.retentionDays, 180);
  assert.ok(existsSync(join(spool, '.mitschnitt/queue', `${j.id}.json`)), 'queued for e-mail delivery');

  assert.ok((await recordingIds('anna')).includes(j.id), 'anna sees her recording');
  assert.ok((await recordingIds('eva')).includes(j.id), 'eva (supervisor, canView sales-staff) sees it');
  assert.not.ok((await recordingIds('frank')).includes(j.id), 'frank does not');
  const audio = (user: string) => signIn(user).then((cookie) => fetch(`http://127.0.0.1:${httpPort}/api/recordings/${j.id}/audio`, { headers: { cookie } }));
  const eva = await audio('eva');
  assert.is(eva.status, 200);
  assert.equal(Buffer.from(await eva.arrayBuffer()), readFileSync(call.file!), 'eva plays the very file MixMonitor wrote');
  assert.is((await audio('frank')).status, 404);
});

test('an external caller dials the sales team (600), Ben answers: inbound, recorded, visible to ben and eva, not anna or frank', async () => {
  const call = dialplanCall({ endpoint: 'PJSIP/trunk', number: '0309999', name: 'Kunde' }, { endpoint: 'PJSIP/202', number: '600', callId: 'ben-1@192.0.2.12' });
  assert.is(call.decision, 'auto');
  fake!.advance(4);
  fake!.hangup(call.callee);
  const path = await waitFor('the team call\'s journal', () => journals().find((p) => p !== annaJournal));
  const j = readJson<Journal>(path);
  assert.is(j.direction, 'inbound');
  assert.is(j.rule, 'sales-external');
  assert.is(j.callee.number, '600');
  assert.ok(j.participants.some((p) => p.userId === 'ben'), 'ben who answered is a participant');
  assert.ok((await recordingIds('ben')).includes(j.id), 'ben sees the call he answered');
  assert.ok((await recordingIds('eva')).includes(j.id), 'eva sees it');
  assert.not.ok((await recordingIds('frank')).includes(j.id), 'frank does not');
  assert.not.ok((await recordingIds('anna')).includes(j.id), 'nor anna: she is in the team but was not on this call');
  teamJournal = path;
});

test('Carla presses the record key the SNOM XML provisions: her manual call is recorded', async () => {
  const carla = readJson<{ users: { id: string; phones: { mac: string }[] }[] }>(join(rules, 'users.json')).users.find((u) => u.id === 'carla')!;
  const mac = carla.phones[0]!.mac.replace(/:/g, '').toLowerCase();
  const xml = readFileSync(join(config, 'snom', `${mac}.xml`), 'utf8');
  const template = />url (http[^<]+)</.exec(xml)?.[1];
  assert.ok(template, xml);
  const callId = 'carla-call-7@192.0.2.31';
  const call = dialplanCall({ endpoint: 'PJSIP/301', number: '301', callId }, { endpoint: 'PJSIP/trunk', number: '040987654' });
  assert.is(call.decision, 'manual');
  assert.is(call.file, null);
  // The phone's key press comes while the call is up: the runtime has seen it when Carla's web client lists it.
  const cookie = await signIn('carla');
  const active = await waitFor('Carla\'s live call in the runtime', async () => {
    const r = await fetch(`http://127.0.0.1:${httpPort}/api/calls`, { headers: { cookie } });
    const { calls } = (await r.json()) as { calls: { manualAllowed: boolean; recording: boolean }[] };
    return calls[0];
  });
  assert.ok(active.manualAllowed, 'Carla may record manually (support-manual)');
  assert.not.ok(active.recording);
  const url = template!.replace(/&amp;/g, '&').replace('$mac', mac).replace('$call-id', callId);
  assert.match(url, `http://127.0.0.1:${httpPort}/`, 'the key points at the runtime');
  const res = await fetch(url);
  const body = await res.text();
  assert.is(res.status, 200, body);
  assert.match(body, '<SnomIPPhoneText>');
  assert.ok(fake!.actions.some((a) => a.name === 'mixmonitor'), 'the runtime started MixMonitor');
  fake!.advance(2);
  fake!.hangup(call.caller);
  const all = await waitFor('Carla\'s journal', () => (journals().length === 3 ? journals() : null));
  carlaJournal = all.find((p) => p !== annaJournal && p !== teamJournal)!;
  const j = readJson<Journal>(carlaJournal);
  assert.is(j.decision, 'manual');
  assert.is(j.rule, 'support-manual');
  assert.is(j.caller.userId, 'carla');
  assert.is(j.durationSeconds, 2);
  assert.ok(existsSync(join(spool, '.mitschnitt/queue', `${j.id}.json`)), 'queued for the DMS script');
});

test('David uses the DTMF record feature (*1, features_mitschnitt.conf): the UserEvent starts and stops a recording', async () => {
  const features = readFileSync(join(config, 'asterisk/features_mitschnitt.conf'), 'utf8');
  const feature = /^mitschnitt-record => ([^,]+),self,UserEvent\((\w+),Source: feature\)$/m.exec(features);
  assert.ok(feature, features);
  const [, code, userEvent] = feature!;
  assert.is(code, '*1');
  const before = journals().length;
  const call = dialplanCall({ endpoint: 'PJSIP/302', number: '302', callId: 'david-1@192.0.2.32' }, { endpoint: 'PJSIP/trunk', number: '0401111' });
  assert.is(call.decision, 'manual');
  const cookie = await signIn('david');
  await waitFor('David\'s live call in the runtime', async () => {
    const r = await fetch(`http://127.0.0.1:${httpPort}/api/calls`, { headers: { cookie } });
    return ((await r.json()) as { calls: unknown[] }).calls.length === 1;
  });
  const mixmonitors = () => fake!.actions.filter((a) => a.name === 'mixmonitor').length;
  const started = mixmonitors();
  fake!.userEvent(call.caller, userEvent!, [['Source', 'feature']]);
  await waitFor('MixMonitor from the feature', () => mixmonitors() === started + 1);
  fake!.advance(2);
  fake!.userEvent(call.caller, userEvent!, [['Source', 'feature']]);
  await waitFor('StopMixMonitor from the feature', () => fake!.actions.some((a) => a.name === 'stopmixmonitor'));
  fake!.hangup(call.caller);
  const path = await waitFor('David\'s journal', () => (journals().length === before + 1 ? journals().find((p) => ![annaJournal, teamJournal, carlaJournal].includes(p)) : null));
  const j = readJson<Journal>(path);
  assert.is(j.decision, 'manual');
  assert.is(j.caller.userId, 'david');
  assert.is(j.durationSeconds, 2);
  davidJournal = path;
});

test('deliver (the cron line): the mail with the attachment reaches the SMTP server, the DMS script ran', async () => {
  const r = await cli(cronCommand('deliver'), { env: { MITSCHNITT_DMS_INBOX: dmsInbox } });
  assert.is(r.code, 0, r.stdout + r.stderr);
  await waitFor('the two mails', () => mailbox.mails.length === 2);
  const anna = readJson<Journal>(annaJournal);
  const mail = mailbox.mails.find((m) => m.attachments.some((a) => a.filename === anna.audio));
  assert.ok(mail, 'a mail carries Anna\'s recording');
  assert.ok(mailbox.mails.some((m) => m.attachments.some((a) => a.filename === readJson<Journal>(teamJournal).audio)), 'and one the team call');
  assert.match(JSON.stringify(mail!.to), 'vertragsarchiv@muster-gmbh.example');
  const attachment = mail!.attachments.find((a) => a.filename === anna.audio);
  assert.ok(attachment, mail!.attachments.map((a) => a.filename).join(','));
  assert.equal(attachment!.content, readFileSync(join(annaJournal, '..', anna.audio)));
  assert.equal(mailbox.logins.at(-1), { user: 'mitschnitt@muster-gmbh.example', password: 'smtp-secret' });
  const carla = readJson<Journal>(carlaJournal);
  assert.ok(existsSync(join(dmsInbox, carla.audio)), 'the DMS script copied the audio');
  assert.ok(existsSync(join(dmsInbox, `${carla.id}.json`)), 'and the journal');
  assert.equal(readdirSync(join(spool, '.mitschnitt/queue')).filter((f) => f.endsWith('.json')), []);
});

test('expire (the cron line, on a clock in 2099) deletes the four recordings and logs each deletion; capacity runs', async () => {
  const chain = await verifyChain(spool);
  assert.ok(chain.ok, chain.problems.join('\n'));
  assert.is(chain.length, 4, 'the four journals form one hash chain');
  // The daily integrity check (its cron line) finds the four recordings serve journaled complete and unaltered.
  const verified = await cli(cronCommand('verify'));
  assert.is(verified.code, 0, verified.stdout + verified.stderr);
  const summary = verified.stdout.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; verified?: number }).find((l) => l.msg === 'verify finished');
  assert.is(summary?.verified, 4);
  const dry = await cli([...cronCommand('expire'), '--dry-run', '--now', '2099-01-01T00:00:00Z']);
  assert.is(dry.code, 0, dry.stdout + dry.stderr);
  assert.equal(journals().length, 4, 'a dry run deletes nothing');
  // expire refuses a future --now without --dry-run (a safety catch), so the far future is the machine's clock.
  const r = await cli(cronCommand('expire'), { env: { NODE_OPTIONS: `--import ${CLOCK_2099}` } });
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(journals(), []);
  for (const j of [annaJournal, teamJournal, carlaJournal, davidJournal]) assert.not.ok(existsSync(j));
  const log = readFileSync(join(spool, '.mitschnitt/deletions.log'), 'utf8');
  for (const j of [annaJournal, teamJournal, carlaJournal, davidJournal]) assert.match(log, j.split('/').pop()!.replace(/\.json$/, ''));
  const afterExpiry = await cli(cronCommand('verify'));
  assert.is(afterExpiry.code, 0, `logged deletions are no finding: ${afterExpiry.stdout}`);

  const cap = await cli(['capacity', '--config', config]);
  assert.ok(cap.code === 0 || cap.code === 1, cap.stderr);
  assert.not.match(cap.stderr, /\n\s+at /, 'no stack trace');
  assert.match(cap.stdout, /\d/);
});

test('serve restarted (SIGTERM, as systemctl restart) during a recorded call picks it up and journals it at hangup', async () => {
  const call = dialplanCall({ endpoint: 'PJSIP/201', number: '201', callId: 'anna-call-2@192.0.2.10' }, { endpoint: 'PJSIP/trunk', number: '030555' });
  assert.is(call.decision, 'auto');
  fake!.advance(2);
  assert.is(await serve!.stop(), 0, 'serve stops cleanly on SIGTERM');
  assert.not.ok(existsSync(call.file!.replace(/\.wav$/, '.json')), 'no journal while the call goes on');
  serve = new Service(['serve', '--config', config]);
  await waitFor('recording picked up after the restart', () => serve!.logged('recording in progress picked up').length > 0 || !serve!.running);
  assert.is(serve.logged('recording in progress picked up')[0]!.audio, call.file);
  fake!.advance(3);
  fake!.hangup(call.caller);
  const journal = call.file!.replace(/\.wav$/, '.json');
  await waitFor('the journal after the restart', () => existsSync(journal));
  const j = readJson<Journal>(journal);
  assert.is(j.rule, 'sales-external');
  assert.is(j.durationSeconds, 5);
  assert.is(j.caller.userId, 'anna');
  const chain = await verifyChain(spool);
  assert.ok(chain.ok, `the chain continues across the logged expiries: ${chain.problems.join('; ')}`);
});

test('a rule change to wav49 goes through plan and deploy; the restarted runtime journals a .WAV recording', async () => {
  const settings = readJson<Record<string, unknown>>(join(rules, 'settings.json'));
  writeJson(join(rules, 'settings.json'), { ...settings, format: 'wav49' });
  const git = simpleGit(repo);
  await git.add('.');
  await git.commit('record in wav49 (GSM) to save space');
  await git.push('origin', 'main');
  const ssh = ['--identity', key, '--rules', rules, '--out', out];
  const plan = await cli(['plan', ...ssh], { cwd: repo });
  assert.is(plan.code, 3, plan.stdout + plan.stderr);
  assert.match(plan.stdout, 'restart: mitschnitt service');
  pbx.clearLogs();
  const deploy = await cli(['deploy', ...ssh, '--cron-dir', cronDir, '--systemd-dir', systemdDir], { cwd: repo });
  assert.is(deploy.code, 0, deploy.stdout + deploy.stderr);
  assert.ok(pbx.systemctlCalls().some((c) => /restart.*mitschnitt/.test(c)), pbx.systemctlCalls().join('\n'));
  assert.is(await serve!.stop(), 0); // what systemctl restart does on the real host
  serve = new Service(['serve', '--config', config]);
  await waitFor('AMI resync after the restart', () => serve!.logged('AMI resync done').length > 0 || !serve!.running);

  const call = dialplanCall({ endpoint: 'PJSIP/201', number: '201', callId: 'anna-call-3@192.0.2.10' }, { endpoint: 'PJSIP/trunk', number: '030777' });
  assert.match(call.file!, /\.WAV$/);
  fake!.advance(4);
  fake!.hangup(call.caller);
  const journal = call.file!.replace(/\.WAV$/, '.json');
  await waitFor('the wav49 journal', () => existsSync(journal));
  const j = readJson<Journal>(journal);
  assert.is(j.audio, call.file!.split('/').pop());
  assert.is(j.durationSeconds, 4);
});

test('audit (on the PBX) lists what the web client logged: eva played Anna\'s recording', async () => {
  const r = await cli(['audit', '--config', config, '--user', 'eva', '--json']);
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const annaId = annaJournal.split('/').pop()!.replace(/\.json$/, '');
  assert.ok(lines.some((l) => JSON.stringify(l).includes(annaId)), r.stdout);
  assert.ok(lines.every((l) => JSON.stringify(l).includes('eva')), 'only eva\'s lines');
});

test.run();
