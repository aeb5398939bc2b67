import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JournalWriter, readHead, sha256, type JournalDraft } from '../../runtime/journal.ts';
import { verifyChain } from '../../runtime/journal-verify.ts';
import { isSpoolRecording, parseRecordingName, recordingPath } from '../../runtime/recording-names.ts';
import { parseWavHeader } from '../../runtime/wav-header.ts';
import { wavHeader } from '../support/fake-ami-server.ts';

test('WAV header: PCM 8 kHz 16-bit (44-byte header) gives duration = data / 16000 B/s', () => {
  const info = parseWavHeader(wavHeader(false, 48_000), 44 + 48_000)!;
  assert.is(info.audioFormat, 1);
  assert.is(info.byteRate, 16_000);
  assert.is(info.dataOffset, 44);
  assert.is(info.headerComplete, true);
  assert.is(info.durationSeconds, 3);
});

test('WAV header: wav49 (GSM in WAV, fact chunk, 65 bytes per 320 samples) gives data / 1625 B/s', () => {
  const data = 65 * 25 * 4; // 4 s: 25 blocks of 320 samples per second
  const info = parseWavHeader(wavHeader(true, data), 60 + data)!;
  assert.is(info.audioFormat, 49);
  assert.is(info.dataOffset, 60);
  assert.is(info.durationSeconds, 4);
});

test('WAV header never finished (Asterisk stopped mid-call): the file size counts', () => {
  const info = parseWavHeader(wavHeader(false, 0), 44 + 32_000)!;
  assert.is(info.headerComplete, false);
  assert.is(info.dataBytes, 32_000);
  assert.is(info.durationSeconds, 2);
  assert.is(parseWavHeader(Buffer.from('not a wav file at all, sorry'), 28), null);
  assert.is(parseWavHeader(wavHeader(false, 0).subarray(0, 20), 20), null);
});

test('recording names follow the contract and are parsed back; a uniqueid that is not one is refused', () => {
  const epoch = Date.UTC(2026, 10, 25, 12, 0, 0) / 1000;
  const d = new Date(epoch * 1000);
  const p = recordingPath('/spool', '1795631630.21', epoch, 'wav49');
  assert.is(p, `/spool/${d.getFullYear()}/${String(d.getMonth() + 1).padStart(2, '0')}/${String(d.getDate()).padStart(2, '0')}/1795631630.21-${epoch}.WAV`);
  assert.equal(parseRecordingName(`1795631630.21-${epoch}.WAV`), { uniqueid: '1795631630.21', epoch, id: `1795631630.21-${epoch}` });
  assert.is(parseRecordingName('1795631630.21-1.json'), null);
  assert.throws(() => recordingPath('/spool', '../../etc/passwd', epoch, 'wav'), /uniqueid/);
  assert.ok(isSpoolRecording('/spool', '/spool/2026/11/25/1.2-3.wav'));
  assert.ok(isSpoolRecording('/spool/', '/spool/2026/11/25/1.2-3.WAV'));
  for (const p of ['/spool/../etc/2026/11/25/1.2-3.wav', '/spool/2026/11/25/../../../../1.2-3.wav', '/spoolx/2026/11/25/1.2-3.wav',
    '/spool/1.2-3.wav', '/spool/2026/11/25/x/1.2-3.wav', '/spool/2026/11/25/auto-1-2.wav', '/spool/2026/11/25/1.2-3.json']) {
    assert.not.ok(isSpoolRecording('/spool', p), p);
  }
});

function draft(id: string): JournalDraft {
  return {
    version: 1, id, audio: `${id}.wav`, host: 'pbx1', start: '2026-11-25T10:00:00.000Z', end: '2026-11-25T10:01:00.000Z',
    durationSeconds: 60, caller: { number: '201' }, callee: { number: '202' }, participants: [{ number: '201' }, { number: '202' }],
    direction: 'outbound', origin: 'internal', decision: 'auto', rule: 'r1', sizeBytes: 960_044, sha256: 'a'.repeat(64),
    channel: 'PJSIP/201-00000001', uniqueid: id.split('-')[0]!, linkedid: id.split('-')[0]!, retentionDays: 90,
  };
}

test('journal writer: concurrent writes are serialised into one chain; a crash between the two head steps is repaired', async () => {
  const spool = await mkdtemp(join(tmpdir(), 'mitschnitt-journal-'));
  try {
    const dir = join(spool, '2026', '11', '25');
    await mkdir(dir, { recursive: true });
    const writer = await JournalWriter.open(spool);
    const ids = ['1.1-100', '1.2-101', '1.3-102', '1.4-103'];
    await Promise.all(ids.map((id) => writer.write(join(dir, `${id}.json`), draft(id))));
    const report = await verifyChain(spool);
    assert.ok(report.ok, report.problems.join('; '));
    assert.is(report.length, 4);

    // Crash after the journal was renamed into place but before chain-head.next replaced chain-head:
    const last = join(dir, '1.5-104.json');
    const bytes = Buffer.from(`${JSON.stringify({ ...draft('1.5-104'), previousHash: (await readHead(spool))!.hash }, null, 2)}\n`);
    await writeFile(last, bytes);
    await writeFile(join(spool, '.mitschnitt', 'chain-head.next'), `${sha256(bytes)} 2026/11/25/1.5-104.json\n`);
    const reopened = await JournalWriter.open(spool);
    assert.is((await readHead(spool))!.hash, sha256(bytes), 'the finished step is completed');
    await reopened.write(join(dir, '1.6-105.json'), draft('1.6-105'));
    assert.ok((await verifyChain(spool)).ok);

    // Crash before the journal was renamed: the next head names a journal that never appeared and is dropped.
    await writeFile(join(spool, '.mitschnitt', 'chain-head.next'), `${'b'.repeat(64)} 2026/11/25/9.9-999.json\n`);
    const head = (await readHead(spool))!.hash;
    await JournalWriter.open(spool);
    assert.is((await readHead(spool))!.hash, head);
    assert.is(await readFile(join(spool, '.mitschnitt', 'chain-head.next'), 'utf8').catch(() => null), null);
    assert.is((await verifyChain(spool)).length, 6);

    // Crash in the middle of a batch of two: one journal reached the disk, the other did not. Neither joins the
    // chain (the one written is removed, its audio stays to be journaled again); a whole batch is completed.
    const before = (await readHead(spool))!.hash;
    const a = Buffer.from(`${JSON.stringify({ ...draft('1.7-106'), previousHash: before }, null, 2)}\n`);
    await writeFile(join(dir, '1.7-106.json'), a);
    await writeFile(join(spool, '.mitschnitt', 'chain-head.next'), `${sha256(a)} 2026/11/25/1.7-106.json\n${'c'.repeat(64)} 2026/11/25/1.8-107.json\n`);
    await JournalWriter.open(spool);
    assert.is((await readHead(spool))!.hash, before, 'a half-written batch does not move the head');
    assert.is(await readFile(join(dir, '1.7-106.json'), 'utf8').catch(() => null), null, 'its written journal is taken back');
    const b = Buffer.from(`${JSON.stringify({ ...draft('1.8-107'), previousHash: sha256(a) }, null, 2)}\n`);
    await writeFile(join(dir, '1.7-106.json'), a);
    await writeFile(join(dir, '1.8-107.json'), b);
    await writeFile(join(spool, '.mitschnitt', 'chain-head.next'), `${sha256(a)} 2026/11/25/1.7-106.json\n${sha256(b)} 2026/11/25/1.8-107.json\n`);
    await JournalWriter.open(spool);
    assert.is((await readHead(spool))!.hash, sha256(b), 'a batch written whole is completed');
    assert.ok((await verifyChain(spool)).ok);
    assert.is((await verifyChain(spool)).length, 8);

    // expire deletes the second journal and logs its hash: the chain still verifies; without the log it does not.
    const second = join(dir, '1.2-101.json');
    const secondHash = sha256(await readFile(second));
    await rm(second);
    const broken = await verifyChain(spool);
    assert.not.ok(broken.ok);
    assert.match(broken.problems.join('\n'), /predecessor .* was removed or modified/);
    await writeFile(join(spool, '.mitschnitt', 'deletions.log'), `${JSON.stringify({ id: '1.2-101', journalSha256: secondHash })}\n`);
    const afterExpire = await verifyChain(spool);
    assert.ok(afterExpire.ok, afterExpire.problems.join('; '));
    assert.is(afterExpire.journals, 7);

    // A journal changed by hand breaks its successor's link even with deletions logged.
    const third = join(dir, '1.3-102.json');
    await writeFile(third, (await readFile(third, 'utf8')).replace('"auto"', '"manual"'));
    assert.not.ok((await verifyChain(spool)).ok);
  } finally {
    await rm(spool, { recursive: true, force: true });
  }
});

test.run();
