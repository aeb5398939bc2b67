import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { access, readFile, stat, writeFile } from 'node:fs/promises';
import { verifyChain } from '../../runtime/journal-verify.ts';
import type { Journal } from '../../runtime/journal.ts';
import { RuntimeEnv, TRUNK, phone } from './runtime-env.ts';
import { waitFor } from '../support/wait-for.ts';

let env: RuntimeEnv;
test.before.each(async () => {
  env = await RuntimeEnv.create();
  await env.start();
  await env.serve!.synced();
});
test.after.each(async () => {
  await env.dispose();
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('an auto recording that just hangs up (no MixMonitorStop) is journaled with duration from the WAV header, hash and delivery entry', async () => {
  const call = env.recordedCall(phone('201'), TRUNK('03012345'));
  env.fake.advance(3);
  env.fake.hangup(call.callee);
  const [journalPath] = await env.waitForJournals(1);
  const j = await env.readJson<Journal>(journalPath!);
  const audio = await readFile(call.file);
  assert.is(journalPath, call.file.replace(/\.wav$/, '.json'));
  assert.is(j.version, 1);
  assert.is(j.id, call.file.replace(/^.*\//, '').replace(/\.wav$/, ''));
  assert.is(j.audio, call.file.replace(/^.*\//, ''));
  assert.is(j.host, 'pbx1');
  assert.is(j.durationSeconds, 3);
  assert.is(j.sizeBytes, audio.length);
  assert.is(j.sha256, sha(audio));
  assert.equal(j.caller, { number: '201', name: 'Anna Albers', userId: 'anna' });
  assert.equal(j.callee, { number: '03012345' }, 'an external callee has no name: the trunk leg carries the caller\'s id');
  assert.equal(j.participants.map((p) => p.number), ['201', '03012345']);
  assert.is(j.direction, 'outbound');
  assert.is(j.origin, 'external');
  assert.is(j.decision, 'auto');
  assert.is(j.rule, 'sales-auto');
  assert.is(j.retentionDays, 30);
  assert.is(j.previousHash, null);
  assert.is(j.channel, call.caller);
  assert.is(j.linkedid, call.linkedid);
  assert.ok(Date.parse(j.end) >= Date.parse(j.start));
  assert.not.ok(j.recovered);
  const queued = await env.readJson<{ id: string; destinations: { kind: string; to?: string[]; path?: string }[] }>(`${env.spool}/.mitschnitt/queue/${j.id}.json`);
  assert.is(queued.id, j.id);
  assert.equal(queued.destinations.map((d) => d.to ?? d.path), [['qa@example.com'], `${env.configDir}/scripts/archive.sh`], 'policy.json names scripts relative to the deployed folder');
  // The journal appears before its sidecar goes (the sidecar outlives a crash in between); the log line comes last.
  await waitFor('the journal logged', () => env.logged('recording journaled').length === 1);
  assert.not.ok(await access(`${env.spool}/.mitschnitt/pending/${j.id}.json`).then(() => true, () => false), 'sidecar removed');
});

test('journals form a hash chain that verifyChain accepts and that detects a modified journal', async () => {
  for (let i = 0; i < 3; i++) {
    const call = env.recordedCall(phone('201'), TRUNK(`0301234${i}`));
    env.fake.advance(2);
    env.fake.hangup(call.caller);
    await env.waitForJournals(i + 1);
  }
  // A journal file is in place before the chain head names it; the log line comes once both are.
  await waitFor('three journals logged', () => env.logged('recording journaled').length === 3);
  const paths = await env.journals();
  const journals = await Promise.all(paths.map((p) => env.readJson<Journal>(p)));
  const byStart = paths.map((p, i) => ({ p, j: journals[i]! }));
  const first = byStart.find((x) => x.j.previousHash === null)!;
  const second = byStart.find((x) => x.j.previousHash === sha(readFileSync(first.p)))!;
  assert.ok(second, 'second journal names the first one\'s hash');
  const report = await verifyChain(env.spool);
  assert.ok(report.ok, report.problems.join('\n'));
  assert.is(report.length, 3);
  const text = await readFile(first.p, 'utf8');
  await writeFile(first.p, text.replace('"auto"', '"manual"'));
  const tampered = await verifyChain(env.spool);
  assert.not.ok(tampered.ok);
});

test('an unanswered recorded call leaves a header-only file: deleted and logged, not journaled', async () => {
  const call = env.recordedCall(phone('201'), TRUNK('0309999'), { answer: false });
  env.fake.advance(5); // ringing: MixMonitor's b option writes nothing while unbridged
  env.fake.cancel(call);
  await waitFor('discard log', () => env.logged('empty recording discarded').length === 1);
  assert.not.ok(await stat(call.file).then(() => true, () => false), 'audio file removed');
  assert.is((await env.journals()).length, 0);
});

test('a MixMonitor that is not ours (outside the spool or another name) is never journaled nor deleted', async () => {
  const foreign = `${env.dir}/monitor/auto-1795631000-201.wav`;
  const odd = `${env.spool}/2026/11/25/freepbx-style-name.wav`;
  for (const file of [foreign, odd]) {
    const call = env.fake.call({ from: phone('201'), to: TRUNK('0304321'), record: { file }, answer: false });
    env.fake.cancel(call); // header-only: ours would be deleted as empty
  }
  const call = env.recordedCall(phone('201'), TRUNK('0301234'));
  env.fake.advance(1);
  env.fake.hangup(call.caller);
  await env.waitForJournals(1);
  assert.ok(await stat(foreign).then(() => true, () => false), 'foreign file left alone');
  assert.ok(await stat(odd).then(() => true, () => false), 'file with another name left alone');
  assert.is(env.logged('empty recording discarded').length, 0);
});

test('a stopped runtime leaves a running recording alone; after the restart it is journaled once, marked recovered', async () => {
  const call = env.recordedCall(phone('201'), TRUNK('0301111'));
  env.fake.advance(2);
  await waitFor('sidecar', () => access(`${env.spool}/.mitschnitt/pending/${call.file.replace(/^.*\//, '').replace('.wav', '')}.json`).then(() => true, () => false));
  await env.stopServe();
  env.fake.advance(2);
  env.fake.hangup(call.callee);
  await new Promise((r) => setTimeout(r, 50)); // MixMonitor closes the file after the hangup
  await env.start();
  await env.serve!.synced();
  const paths = await env.waitForJournals(1);
  const j = await env.readJson<Journal>(paths[0]!);
  assert.is(j.recovered, true);
  assert.is(j.durationSeconds, 4);
  assert.is(j.rule, 'sales-auto', 'rule known from the sidecar');
  assert.equal(j.caller, { number: '201', name: 'Anna Albers', userId: 'anna' });
  await env.stopServe();
  await env.start();
  await env.serve!.synced();
  assert.is((await env.journals()).length, 1, 'not journaled twice');
  assert.ok((await verifyChain(env.spool)).ok);
});

test('a recording that outlives a runtime restart is picked up by the resync and journaled when it ends', async () => {
  const call = env.recordedCall(phone('201'), TRUNK('0302222'));
  env.fake.advance(1);
  await env.stopServe();
  await env.start();
  await env.serve!.synced();
  assert.ok(env.serve!.tracker.recordings.has(call.file), 'resync adopted the running recording');
  assert.is((await env.journals()).length, 0, 'a running recording is not journaled by the scan');
  env.fake.advance(2);
  env.fake.hangup(call.caller);
  const paths = await env.waitForJournals(1);
  const j = await env.readJson<Journal>(paths[0]!);
  assert.is(j.durationSeconds, 3);
  assert.not.ok(j.recovered);
});

test('serve warns when the spool filesystem runs low on space, and says so once it has room again', async () => {
  await env.stopServe();
  env.logs.length = 0;
  await env.start({ spaceThresholds: { minFreeBytes: Number.MAX_SAFE_INTEGER } });
  await waitFor('the low-space warning', () => env.logs.some((l) => l.msg === 'spool filesystem is running low on space: recordings may be lost'));
  const warning = env.logs.find((l) => l.msg.startsWith('spool filesystem is running low'))!;
  assert.is(warning.level, 'warn');
  assert.is(warning.spool, env.spool);
  await env.stopServe();
  env.logs.length = 0;
  await env.start({ spaceThresholds: { minFreeBytes: 1, minFreeRatio: 0 } });
  await env.serve!.synced();
  assert.not.ok(env.logs.some((l) => l.msg.startsWith('spool filesystem is running low')), 'no warning with room to spare');
});

test.run();
