// The fake AMI server against the real Asterisk 22 transcripts: same bytes for the same answers, same header
// names in the same order for the events the runtime reads. If Asterisk's wire format is modelled wrongly, this fails.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { AmiParser, type AmiMessage } from '../../runtime/ami-parser.ts';
import { FakeAmiServer, type PhoneSpec } from '../support/fake-ami-server.ts';
import { rmSync } from 'node:fs';
import { received } from './transcript.ts';

/** Raw bytes of the real answer to the action with this ActionID (the block that names it). */
function realBlock(file: string, actionId: string): string {
  const all = Buffer.concat(received(file)).toString('latin1');
  const block = all.split('\r\n\r\n').find((b) => b.includes(`\r\nActionID: ${actionId}\r\n`) || b.endsWith(`\r\nActionID: ${actionId}`))!;
  return `${block.slice(block.indexOf('Response:'))}\r\n\r\n`;
}

function realEventKeys(file: string, event: string): string[] {
  const parser = new AmiParser();
  const m = received(file).flatMap((c) => parser.feed(c).messages).find((x) => x.event === event)!;
  return m.headers.map(([k]) => k);
}

async function session(fake: FakeAmiServer, login = true): Promise<{ send(text: string): void; bytes(): string; events(): AmiMessage[]; close(): void; closed: Promise<void> }> {
  const socket = net.connect(fake.port, '127.0.0.1');
  let bytes = '';
  socket.on('data', (d) => (bytes += d.toString('latin1')));
  const closed = new Promise<void>((r) => socket.on('close', () => r()));
  await new Promise((r) => socket.once('connect', r));
  await waitBytes(() => bytes, 'Asterisk Call Manager/11.0.0\r\n');
  if (login) {
    socket.write('Action: Login\r\nUsername: test\r\nSecret: test\r\nActionID: login-1\r\n\r\n');
    await waitBytes(() => bytes, 'Message: Authentication accepted\r\n\r\n');
  }
  return {
    send: (t) => socket.write(t),
    bytes: () => bytes,
    events: () => {
      const p = new AmiParser();
      return p.feed(bytes).messages.filter((m) => m.event);
    },
    close: () => socket.destroy(),
    closed,
  };
}

async function waitBytes(get: () => string, needle: string): Promise<void> {
  const until = Date.now() + 3000;
  while (!get().includes(needle)) {
    if (Date.now() > until) throw new Error(`never received ${JSON.stringify(needle)}; got ${JSON.stringify(get())}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const A: PhoneSpec = { endpoint: 'PJSIP/201', number: '201' };
const B: PhoneSpec = { endpoint: 'PJSIP/202', number: '202' };

test('banner, login, failed login, Ping: byte for byte as transcripts 01-03', async () => {
  const fake = new FakeAmiServer({ username: 'test', secret: 'test', loginFailureDelayMs: 5 });
  await fake.start();
  const real01 = received('04-getvar-setvar.txt');
  const s = await session(fake);
  assert.is(s.bytes().slice(0, 30), real01[0]!.toString('latin1'));
  assert.ok(s.bytes().includes(realBlock('04-getvar-setvar.txt', 'login-1')));
  const bad = await session(fake, false);
  bad.send('Action: Login\r\nUsername: test\r\nSecret: wrong\r\nActionID: login-bad\r\n\r\n');
  await bad.closed;
  assert.is(bad.bytes(), 'Asterisk Call Manager/11.0.0\r\nResponse: Error\r\nActionID: login-bad\r\nMessage: Authentication failed\r\n\r\n', 'then Asterisk closes');
  s.send('Action: Ping\r\nActionID: ping-1\r\n\r\n');
  await waitBytes(s.bytes, 'Ping: Pong');
  assert.match(s.bytes(), /Response: Success\r\nActionID: ping-1\r\nPing: Pong\r\nTimestamp: \d+\.\d{6}\r\n\r\n/);
  s.close();
  await fake.stop();
});

test('errors of Getvar/Setvar/StopMixMonitor/MixMonitorMute: the real messages (transcripts 04, 10)', async () => {
  const fake = new FakeAmiServer({ username: 'test', secret: 'test' });
  await fake.start();
  const call = fake.call({ from: A, to: B });
  const s = await session(fake);
  s.send('Action: Getvar\r\nChannel: Local/999@test-deadbeef;2\r\nVariable: MYVAR\r\nActionID: getvar-missing\r\n\r\n');
  s.send('Action: Setvar\r\nChannel: Local/999@test-deadbeef;2\r\nVariable: MYVAR\r\nValue: x\r\nActionID: setvar-missing\r\n\r\n');
  s.send(`Action: StopMixMonitor\r\nChannel: ${call.caller}\r\nActionID: stop-norec\r\n\r\n`);
  s.send('Action: StopMixMonitor\r\nChannel: Local/999@test-deadbeef;2\r\nActionID: stop-nochan\r\n\r\n');
  s.send(`Action: MixMonitorMute\r\nChannel: ${call.caller}\r\nDirection: both\r\nState: 1\r\nActionID: mute-norec\r\n\r\n`);
  await waitBytes(s.bytes, 'ActionID: mute-norec');
  await waitBytes(s.bytes, 'Cannot set mute flag\r\n\r\n');
  for (const [file, id] of [
    ['04-getvar-setvar.txt', 'getvar-missing'],
    ['04-getvar-setvar.txt', 'setvar-missing'],
    ['10-stopmixmonitor-not-recording.txt', 'stop-norec'],
    ['10-stopmixmonitor-not-recording.txt', 'stop-nochan'],
    ['10-stopmixmonitor-not-recording.txt', 'mute-norec'],
  ] as const) {
    assert.ok(s.bytes().includes(realBlock(file, id)), `${id}: ${realBlock(file, id)}`);
  }
  s.close();
  await fake.stop();
});

test('events carry the real header names in the real order (transcripts 08, 09, 12, 15)', async () => {
  const fake = new FakeAmiServer({ username: 'test', secret: 'test', channelvars: ['MITSCHNITT_DECISION', 'MITSCHNITT_RULE', 'MIXMONITOR_FILENAME'], fileCloseDelayMs: 0 });
  await fake.start();
  const s = await session(fake);
  const call = fake.call({ from: A, to: B, vars: { __MITSCHNITT_DECISION: 'auto', __MITSCHNITT_RULE: 'r1' }, record: { file: `/tmp/mitschnitt-fidelity-${process.pid}/x.wav` } });
  fake.hangup(call.callee);
  await waitBytes(s.bytes, 'Event: Hangup');
  await new Promise((r) => setTimeout(r, 30));
  const fakeKeys = (event: string) => s.events().find((m) => m.event === event)!.headers.map(([k]) => k);
  for (const event of ['Newchannel', 'VarSet', 'MixMonitorStart', 'DialBegin', 'DialEnd', 'BridgeCreate', 'BridgeEnter', 'BridgeLeave', 'Hangup', 'SoftHangupRequest']) {
    const real = realEventKeys('08-recorded-call-hangup-via-ami-channelvars.txt', event);
    const mine = fakeKeys(event);
    if (event === 'DialBegin' || event === 'DialEnd') {
      // The first real DialBegin is the Originate's (no calling channel); compare with the Dial between two channels.
      const p = new AmiParser();
      const dial = received('08-recorded-call-hangup-via-ami-channelvars.txt').flatMap((c) => p.feed(c).messages).find((m) => m.event === event && m.get('Channel'))!;
      assert.equal(mine, dial.headers.map(([k]) => k), event);
    } else {
      assert.equal(mine, real, event);
    }
  }
  const c2 = fake.call({ from: A, to: B });
  const t = fake.blindTransfer(c2.caller, { endpoint: 'PJSIP/203', number: '203' });
  const c3 = fake.call({ from: A, to: B });
  fake.startAttendedTransfer(c3.caller, { endpoint: 'PJSIP/204', number: '204' });
  fake.completeAttendedTransfer(c3.caller, c3.bridge!);
  await waitBytes(s.bytes, 'Event: AttendedTransfer');
  await new Promise((r) => setTimeout(r, 30));
  const strip = (keys: string[]) => keys.filter((k) => !k.endsWith('ChanVariable'));
  assert.equal(strip(fakeKeys('BlindTransfer')), realEventKeys('12-blind-transfer.txt', 'BlindTransfer'));
  assert.equal(strip(fakeKeys('AttendedTransfer')), realEventKeys('15-attended-transfer.txt', 'AttendedTransfer'));
  assert.equal(fakeKeys('BridgeMerge'), realEventKeys('15-attended-transfer.txt', 'BridgeMerge'));
  assert.ok(t.target);
  s.close();
  await fake.stop();
});

test('MixMonitor: answer split after ActionID, MixMonitorID without Message, then VarSets and MixMonitorStart (transcript 09)', async () => {
  const fake = new FakeAmiServer({ username: 'test', secret: 'test', fileCloseDelayMs: 0 });
  await fake.start();
  const call = fake.call({ from: A, to: B });
  const s = await session(fake);
  const before = s.bytes().length;
  s.send(`Action: MixMonitor\r\nChannel: ${call.caller}\r\nFile: /tmp/mitschnitt-fidelity-${process.pid}/ami-mm.wav\r\nOptions: bi(MMID)\r\nActionID: mm-start\r\n\r\n`);
  await waitBytes(s.bytes, 'Event: MixMonitorStart');
  const text = s.bytes().slice(before);
  assert.match(text, /^Response: Success\r\nActionID: mm-start\r\nMixMonitorID: 0x[0-9a-f]+\r\n\r\nEvent: VarSet\r\n/);
  const names = new AmiParser();
  names.feed('Asterisk Call Manager/11.0.0\r\n');
  const order = names.feed(text).messages.map((m) => m.event ?? m.response);
  assert.equal(order, ['Success', 'VarSet', 'VarSet', 'MixMonitorStart']);
  const real = new AmiParser();
  const realOrder = received('09-ami-mixmonitor-mute-stop.txt').flatMap((c) => real.feed(c).messages);
  const i = realOrder.findIndex((m) => m.actionId === 'mm-start');
  assert.equal(realOrder.slice(i, i + 4).map((m) => m.event ?? m.response), order);
  s.close();
  await fake.stop();
});

test.after(() => rmSync(`/tmp/mitschnitt-fidelity-${process.pid}`, { recursive: true, force: true }));

test.run();
