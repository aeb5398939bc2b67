import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { assessCapacity, assumedLoad, checkSpoolSpace, loadFromJournals, measureDisk, startSpoolSpaceMonitor } from '../../runtime/capacity.ts';
import { makeWorkspace, memoryLogger, testPolicy, writePolicy, writeRecording } from './support.ts';

type Workspace = Awaited<ReturnType<typeof makeWorkspace>>;
let ws: Workspace;
test.before.each(async () => {
  ws = await makeWorkspace();
});
test.after.each(async () => {
  await rm(ws.root, { recursive: true, force: true });
});

const NOW = new Date(2026, 5, 30, 12, 0);
const daysBefore = (days: number) => new Date(NOW.getFullYear(), NOW.getMonth(), NOW.getDate() - days, 9, 30);
const MB = 1_000_000;

/** 7 days × (one 60 s call kept 90 days + one 120 s call kept 180 days), plus calls outside the window. */
async function week(): Promise<number> {
  let bytes = 0;
  for (let d = 1; d <= 7; d++) {
    bytes += (await writeRecording(ws.spool, { start: daysBefore(d), seconds: 60, retentionDays: 90 })).bytes.length;
    bytes += (await writeRecording(ws.spool, { start: daysBefore(d), seconds: 120, retentionDays: 180 })).bytes.length;
  }
  await writeRecording(ws.spool, { start: daysBefore(0), seconds: 600 }); // today: incomplete, not counted
  await writeRecording(ws.spool, { start: daysBefore(8), seconds: 600 }); // outside the window
  return bytes;
}

test('capacity: figures per day and at full retention from known journals, for wav and wav49', async () => {
  const bytes = await week();
  const policy = testPolicy({ spool: ws.spool });
  const load = await loadFromJournals(policy, 7, NOW);
  assert.is(load.recordings, 14);
  assert.is(load.minutesPerDay, 3);
  assert.is(load.retainedMinutes, (7 * 1 * 90 + 7 * 2 * 180) / 7);
  assert.is(load.measuredBytesPerDay, bytes / 7);

  const report = assessCapacity(policy, load, { freeBytes: 10_000 * MB, totalBytes: 20_000 * MB, spoolBytes: 0 }, 14);
  assert.is(report.need.wav.perDayBytes, 3 * 960_000);
  assert.is(report.need.wav.atFullRetentionBytes, 450 * 960_000);
  assert.is(report.need.wav49.perDayBytes, 3 * 97_500);
  assert.is(report.need.wav49.atFullRetentionBytes, 450 * 97_500);
  assert.equal(report.warnings, []);
  // The measured wav bytes agree with the rule of thumb (plus a 44-byte header per file).
  assert.ok(Math.abs(load.measuredBytesPerDay! - report.need.wav.perDayBytes) < 100);
});

test('capacity: warns when the spool will fill before recordings expire, and when headroom is short', () => {
  const policy = testPolicy({ spool: ws.spool, retentionDays: 90 });
  const load = assumedLoad(policy, 100, 3); // 300 min/day → 288 MB/day wav, 25.92 GB at 90 days
  const full = assessCapacity(policy, load, { freeBytes: 20_000 * MB, totalBytes: 40_000 * MB, spoolBytes: 1_000 * MB }, 14);
  assert.is(full.warnings.length, 1);
  assert.match(full.warnings[0]!, /too small: at full retention the recordings need 25\.9 GB/);
  const tight = assessCapacity(policy, load, { freeBytes: 26_000 * MB, totalBytes: 40_000 * MB, spoolBytes: 1_000 * MB }, 14);
  assert.match(tight.warnings[0]!, /little headroom/);
  assert.ok(tight.headroomDays! > 0 && tight.headroomDays! < 14);
  const roomy = assessCapacity(policy, load, { freeBytes: 40_000 * MB, totalBytes: 80_000 * MB, spoolBytes: 1_000 * MB }, 14);
  assert.equal(roomy.warnings, []);
  // wav49 would fit where wav does not.
  assert.ok(full.need.wav49.atFullRetentionBytes < 20_000 * MB);
});

test('capacity: the spool size and the real free space of its filesystem are measured', async () => {
  const bytes = await week();
  const disk = await measureDisk(ws.spool);
  assert.ok(disk.freeBytes > 0 && disk.totalBytes >= disk.freeBytes);
  assert.ok(disk.spoolBytes > bytes, 'all recordings, journals included, are counted');
  const missing = await measureDisk(`${ws.spool}/not-yet-created`);
  assert.is(missing.spoolBytes, 0, 'a spool that does not exist yet is measured on its parent filesystem');
});

test('capacity: the runtime monitor logs a warning while the spool filesystem is low', async () => {
  assert.is((await checkSpoolSpace(ws.spool, { minFreeBytes: 0, minFreeRatio: 0 })).low, false);
  const { lines, log } = memoryLogger();
  const stop = startSpoolSpaceMonitor({ spool: ws.spool, log, minFreeBytes: Number.MAX_SAFE_INTEGER, intervalMs: 60_000 });
  try {
    while (!lines.length) await new Promise((r) => setTimeout(r, 20));
  } finally {
    stop();
  }
  assert.is(lines[0]!.level, 'warn');
  assert.match(lines[0]!.msg, /running low/);
});

test('capacity CLI: exit 0 with room, 1 below the headroom threshold, 2 on half-given figures', async () => {
  await writePolicy(ws.config, testPolicy({ spool: ws.spool }));
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ['bin/mitschnitt.js', 'capacity', '--config', ws.config, ...args], { encoding: 'utf8' });
  const ok = run('--calls-per-day', '1', '--minutes-per-call', '0.01', '--json');
  assert.is(ok.status, 0, ok.stderr);
  const report = JSON.parse(ok.stdout);
  assert.is(report.need.wav.perDayBytes, 0.01 * 960_000);
  const low = run('--calls-per-day', '1', '--minutes-per-call', '0.01', '--min-headroom-days', '1e12');
  assert.is(low.status, 1);
  assert.match(low.stderr, /warning: little headroom/);
  assert.match(low.stdout, /wav49 .* per day/);
  assert.is(run('--calls-per-day', '5').status, 2);
  assert.is(run('--days', '0').status, 2);
});

test.run();
