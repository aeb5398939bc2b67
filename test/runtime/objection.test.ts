// A caller's objection on the fake AMI (the engine proves the same in test/engine/moving-calls-objection.test.ts):
// a deny seen on any channel of a call (VarSet of MITSCHNITT_DECISION to deny, as mitschnitt-check sets it) stops
// every recording of that call; settings.objection says whether the audio is discarded (default) or kept.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Policy } from '../../generator/policy.ts';
import type { Journal } from '../../runtime/journal.ts';
import { verifyChain } from '../../runtime/journal-verify.ts';
import { verifySpool } from '../../runtime/integrity-verify.ts';
import { ANNA, BEN, RuntimeEnv, TRUNK, header, phone } from './runtime-env.ts';
import { waitFor } from '../support/wait-for.ts';

let env: RuntimeEnv;

async function start(objection?: 'keep' | 'discard'): Promise<void> {
  env = await RuntimeEnv.create();
  if (objection) {
    const path = join(env.configDir, 'policy.json');
    const policy = JSON.parse(await readFile(path, 'utf8')) as Policy;
    (policy.settings as Record<string, unknown>).objection = objection;
    await writeFile(path, JSON.stringify(policy));
  }
  await env.start({ moveSettleMs: 20 });
  await env.serve!.synced();
}
test.after.each(async () => env?.dispose());

const stops = () => env.actions('StopMixMonitor');

async function queued(): Promise<string[]> {
  return readdir(join(env.spool, '.mitschnitt', 'queue')).catch(() => []);
}

test('discard (default): the customer objects on their own channel; the recording on Anna\'s channel is stopped, its audio deleted after a deletion-log line, the journal says so, nothing is delivered', async () => {
  await start();
  const call = env.recordedCall(phone(ANNA.ext), TRUNK('0309999'));
  env.fake.advance(3);
  env.fake.setVar(call.callee, '__MITSCHNITT_DECISION', 'deny');
  await waitFor('StopMixMonitor on Anna', () => stops().length === 1);
  assert.is(header(stops()[0]!.headers, 'Channel'), call.caller);
  const [path] = await env.waitForJournals(1);
  const j = await env.readJson<Journal>(path!);
  assert.ok(j.objection?.at && !Number.isNaN(Date.parse(j.objection.at)), JSON.stringify(j.objection));
  assert.is(j.audioDiscarded, true);
  assert.is(j.sizeBytes, 0);
  assert.is(j.sha256, undefined);
  assert.is(j.rule, 'sales-auto', 'the journal keeps the decision the recording was made under');
  assert.is(j.durationSeconds, 3);
  assert.not.ok(existsSync(call.file), 'the audio is gone');
  const log = (await readFile(join(env.spool, '.mitschnitt', 'deletions.log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { id: string; reason: string; sha256: string });
  assert.equal(log.map((l) => [l.id, l.reason]), [[j.id, 'objection']]);
  assert.match(log[0]!.sha256, /^[0-9a-f]{64}$/);
  assert.equal(await queued(), [], 'never delivered');
  assert.ok((await verifyChain(env.spool)).ok);
  const integrity = await verifySpool({ spool: env.spool });
  assert.equal(integrity.findings, [], 'verify accepts a discarded recording');
  env.fake.hangup(call.caller);
});

test('keep: the objected recording is journaled as usual with objection {at}, audio and SHA-256 kept', async () => {
  await start('keep');
  const call = env.recordedCall(phone(ANNA.ext), TRUNK('0309998'));
  env.fake.advance(2);
  env.fake.setVar(call.caller, '__MITSCHNITT_DECISION', 'deny');
  const [path] = await env.waitForJournals(1);
  const j = await env.readJson<Journal>(path!);
  assert.ok(j.objection?.at);
  assert.is(j.audioDiscarded, undefined);
  assert.match(j.sha256 ?? '', /^[0-9a-f]{64}$/);
  assert.ok(existsSync(call.file));
  assert.is(j.durationSeconds, 2);
  env.fake.hangup(call.caller);
});

test('after an objection, manual recording stays refused for the rest of the call, even when a variable says otherwise later', async () => {
  await start();
  // Ben (manual rule) talks to a customer, who objects.
  const call = env.plainCall(phone(BEN.ext), TRUNK('0308877'), 'manual');
  await env.sync();
  const control = env.serve!.control;
  const [ac] = control.activeCalls('ben');
  assert.is(ac!.manualAllowed, true);
  env.fake.setVar(call.callee, '__MITSCHNITT_DECISION', 'deny');
  await env.sync();
  assert.equal(await control.startRecording('ben', ac!.id), { ok: false, reason: 'not-allowed', message: 'the caller objected to recording this call' });
  assert.is(control.activeCalls('ben')[0]!.manualAllowed, false);
  // The call's variables no longer say deny anywhere: the objection is the call's, not a variable's.
  env.fake.setVar(call.callee, '__MITSCHNITT_DECISION', 'manual');
  await env.sync();
  assert.is((await control.startRecording('ben', ac!.id)).ok, false);
  assert.is(env.actions('MixMonitor').length, 0);
});

test('an objection stops recordings on other channels of the call too (a manual recording the runtime started)', async () => {
  await start('keep');
  const call = env.plainCall(phone(BEN.ext), TRUNK('0308866'), 'manual');
  await env.sync();
  const control = env.serve!.control;
  const [ac] = control.activeCalls('ben');
  assert.equal(await control.startRecording('ben', ac!.id), { ok: true, recording: true, paused: false });
  await env.sync();
  env.fake.advance(2);
  env.fake.setVar(call.callee, '__MITSCHNITT_DECISION', 'deny');
  const [path] = await env.waitForJournals(1);
  const j = await env.readJson<Journal>(path!);
  assert.is(j.decision, 'manual');
  assert.ok(j.objection?.at);
  assert.is(header(stops()[0]!.headers, 'Channel'), call.caller);
});

test.run();
