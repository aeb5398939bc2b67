// File names the runtime gives its own recordings never collide and never claim a later time than the start;
// a recording that ended just before serve started is journaled within seconds, not at the next 5-minute scan.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Journal } from '../../runtime/journal.ts';
import { ownRecordingPath, parseRecordingName } from '../../runtime/recording-names.ts';
import { wavHeader } from '../support/fake-ami-server.ts';
import { BEN, RuntimeEnv, TRUNK, header, phone } from './runtime-env.ts';

let env: RuntimeEnv;
test.after.each(async () => env?.dispose());

/** Ben (manual rule) on a call with a customer, as the web client sees it. */
async function bensManualCall(customer: string) {
  env = await RuntimeEnv.create();
  await env.start();
  await env.serve!.synced();
  env.plainCall(phone(BEN.ext), TRUNK(customer), 'manual');
  await env.sync();
  const control = env.serve!.control;
  const [ac] = control.activeCalls('ben');
  return { control, ac };
}

test('manual start/stop/start/stop/start within one second on one channel: five different files, each named for its own start (ms), none ahead of the clock', async () => {
  const { control, ac } = await bensManualCall('0304444');
  const files: string[] = [];
  for (let i = 0; i < 5; i++) {
    const before = Date.now();
    assert.equal(await control.startRecording('ben', ac!.id), { ok: true, recording: true, paused: false });
    const file = header(env.actions('MixMonitor').at(-1)!.headers, 'File')!;
    const startMs = parseRecordingName(file.slice(file.lastIndexOf('/') + 1))!.epoch * 1000;
    assert.ok(startMs >= before && startMs <= Date.now(), `name ${file} tells the start (${before}…${Date.now()})`);
    files.push(file);
    if (i < 4) assert.equal(await control.stopRecording('ben', ac!.id), { ok: true, recording: false, paused: false });
  }
  assert.is(new Set(files).size, 5, 'no name used twice');
});

test('two starts at the same millisecond on one channel cannot share a name: the second start is refused while the first runs', async () => {
  const { control, ac } = await bensManualCall('0304445');
  const [a, b] = await Promise.all([control.startRecording('ben', ac!.id), control.startRecording('ben', ac!.id)]);
  assert.equal([a.ok, b.ok].sort(), [false, true], JSON.stringify([a, b]));
  assert.is(env.actions('MixMonitor').length, 1);
});

test('ownRecordingPath refuses what is not a uniqueid or an epoch in milliseconds', () => {
  assert.throws(() => ownRecordingPath('/s', '../x', Date.now(), 'wav'), /uniqueid/);
  assert.throws(() => ownRecordingPath('/s', '1.2', 1_700_000_000, 'wav'), /milliseconds/);
  assert.match(ownRecordingPath('/s', '1.2', 1_700_000_000_123, 'wav'), /\/1\.2-1700000000123\.wav$/);
});

test('a recording MixMonitor closed a moment before serve started (RIFF sizes written) is journaled by the first scan', async () => {
  env = await RuntimeEnv.create();
  const audio = env.audioPath('1796000000.78');
  await mkdir(dirname(audio), { recursive: true });
  await writeFile(audio, Buffer.concat([wavHeader(false, 48_000), Buffer.alloc(48_000)]));
  await env.start({ recoveryMinIdleMs: 60_000, scanIntervalMs: 300_000 });
  await env.serve!.synced();
  const [path] = await env.waitForJournals(1, 3000);
  assert.is((await env.readJson<Journal>(path!)).durationSeconds, 3);
});

test('a fresh file whose header was never finalised (Asterisk died mid-call) waits until idle, then is journaled within seconds (not at the 5-minute scan)', async () => {
  env = await RuntimeEnv.create();
  // Written 0.2 s before the start, sizes still 0 as MixMonitor leaves them until it closes the file: too fresh
  // for the first scan (idle limit 1.5 s here, 10 s by default).
  const audio = env.audioPath('1796000000.77');
  await mkdir(dirname(audio), { recursive: true });
  const head = wavHeader(false, 48_000);
  head.writeUInt32LE(36, 4);
  head.writeUInt32LE(0, 40);
  await writeFile(audio, Buffer.concat([head, Buffer.alloc(48_000)]));
  await new Promise((r) => setTimeout(r, 200));
  const started = Date.now();
  await env.start({ recoveryMinIdleMs: 1500, scanIntervalMs: 300_000 });
  await env.serve!.synced();
  assert.is((await env.journals()).length, 0, 'too fresh for the first scan');
  const [path] = await env.waitForJournals(1, 5000);
  const j = await env.readJson<Journal>(path!);
  assert.is(j.recovered, true);
  assert.is(j.durationSeconds, 3);
  assert.ok(Date.now() - started < 4000, `journaled ${Date.now() - started} ms after the start`);
});

test.run();
