import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AmiParser, formatAction, type AmiMessage } from '../../runtime/ami-parser.ts';
import { CallTracker, type EndedRecording } from '../../runtime/call-tracker.ts';
import { received } from './transcript.ts';

function parseAll(chunks: Buffer[]): { banner?: string; messages: AmiMessage[] } {
  const parser = new AmiParser();
  const out: { banner?: string; messages: AmiMessage[] } = { messages: [] };
  for (const c of chunks) {
    const r = parser.feed(c);
    if (r.banner !== undefined) out.banner = r.banner;
    out.messages.push(...r.messages);
  }
  return out;
}

test('parser: real transcript 04 read as Asterisk sent it, with the Getvar answer split over two reads', () => {
  const { banner, messages } = parseAll(received('04-getvar-setvar.txt'));
  assert.is(banner, 'Asterisk Call Manager/11.0.0');
  const getvar = messages.find((m) => m.actionId === 'getvar-set')!;
  assert.is(getvar.response, 'Success');
  assert.is(getvar.get('Variable'), 'MYVAR');
  assert.is(getvar.get('Value'), 'hello');
  assert.is(messages.find((m) => m.actionId === 'getvar-unset')!.get('Value'), '', 'an empty value stays empty');
  assert.is(messages.find((m) => m.actionId === 'getvar-missing')!.get('Message'), 'No such channel');
  const total = Buffer.concat(received('04-getvar-setvar.txt')).toString('latin1').split('\r\n\r\n').length - 1;
  assert.is(messages.length, total);
});

test('parser: the same bytes fed one at a time give the same messages', () => {
  const whole = Buffer.concat(received('09-ami-mixmonitor-mute-stop.txt'));
  const bytewise = parseAll([...whole].map((b) => Buffer.from([b])));
  const chunked = parseAll(received('09-ami-mixmonitor-mute-stop.txt'));
  assert.equal(bytewise.messages.map((m) => m.headers), chunked.messages.map((m) => m.headers));
  const mm = chunked.messages.find((m) => m.actionId === 'mm-start')!;
  assert.is(mm.get('MixMonitorID'), '0x7f55e400f4e0', 'MixMonitorID arrived in the read after Response/ActionID');
  assert.is(mm.get('Message'), undefined);
});

test('parser: ChanVariable headers per snapshot prefix, without the inheritance prefix', () => {
  const { messages } = parseAll(received('08-recorded-call-hangup-via-ami-channelvars.txt'));
  const start = messages.find((m) => m.event === 'MixMonitorStart')!;
  assert.equal([...start.chanVars()], [
    ['MITSCHNITT_DECISION', 'auto'],
    ['MITSCHNITT_RULE', 'r1'],
    ['MIXMONITOR_FILENAME', '/tmp/x/1795631630.21.wav'],
  ]);
  const dial = messages.find((m) => m.event === 'DialBegin' && m.get('Channel'))!;
  assert.is(dial.chanVars('Dest').get('MITSCHNITT_DECISION'), 'auto');
});

test('formatAction refuses values that would inject AMI headers', () => {
  assert.is(formatAction([['Action', 'Ping'], ['ActionID', 'x']]), 'Action: Ping\r\nActionID: x\r\n\r\n');
  assert.throws(() => formatAction([['Action', 'Setvar'], ['Value', 'x\r\nAction: Originate']]), /line break/);
});

function replay(name: string): { tracker: CallTracker; started: string[]; ended: EndedRecording[] } {
  const started: string[] = [];
  const ended: EndedRecording[] = [];
  const tracker = new CallTracker({ recordingStarted: (r) => started.push(r.file), recordingEnded: (e) => ended.push(e) });
  for (const m of parseAll(received(name)).messages) if (m.event) tracker.handle(m);
  return { tracker, started, ended };
}

test('tracker on real transcript 08: recording found via MIXMONITOR_FILENAME, id via i(), ends at Hangup without MixMonitorStop', () => {
  const { tracker, started, ended } = replay('08-recorded-call-hangup-via-ami-channelvars.txt');
  assert.equal(started, ['/tmp/x/1795631630.21.wav']);
  assert.is(ended.length, 1);
  const r = ended[0]!.recording;
  assert.is(ended[0]!.reason, 'hangup');
  assert.is(r.channel, 'Local/800@test-0000000a;2');
  assert.is(r.mixmonId, '0x7f55e4009620');
  assert.is(r.vars.get('MITSCHNITT_DECISION'), 'auto');
  assert.is(r.vars.get('MITSCHNITT_RULE'), 'r1');
  assert.is(r.linkedid, '1795631630.20');
  // Local/200@test;1 stands for the number it dials (200); the originator's side (Local/800;2, no caller id) has
  // no number and is left out rather than named by its channel.
  assert.equal(r.participants, [{ number: '200' }], 'parties, never channel names');
  assert.equal(tracker.size, { expected: 0, channels: 0, bridges: 0, recordings: 0, objections: 0 });
});

test('tracker on real transcript 11 (callee hangs up, no channelvars): VarSet alone identifies the file', () => {
  const { tracker, ended } = replay('11-recorded-call-callee-hangs-up.txt');
  assert.is(ended.length, 1);
  assert.match(ended[0]!.recording.file, /^\/tmp\/x\/\d+\.\d+\.wav$/);
  assert.is(tracker.size.channels, 0);
});

test('tracker on real transcripts 09, 12, 15: stop by AMI ends the recording; transfers leave no state behind', () => {
  const mm = replay('09-ami-mixmonitor-mute-stop.txt');
  assert.equal(mm.started, ['/tmp/x/ami-mm.wav']);
  assert.is(mm.ended[0]!.reason, 'stop');
  for (const name of ['12-blind-transfer.txt', '15-attended-transfer.txt']) {
    const { tracker } = replay(name);
    assert.equal(tracker.size, { expected: 0, channels: 0, bridges: 0, recordings: 0, objections: 0 }, name);
  }
});

test.run();
