import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { Writable } from 'node:stream';
import { AmiError } from '../../runtime/ami-client.ts';
import { AmiSession } from '../../runtime/ami-session.ts';
import { createLogger } from '../../runtime/log.ts';
import { FakeAmiServer } from '../support/fake-ami-server.ts';
import { waitFor } from '../support/wait-for.ts';

function capture(verbose = false) {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, done) {
      for (const l of chunk.toString().split('\n')) if (l) (raw.push(l), lines.push(JSON.parse(l) as Record<string, unknown>));
      done();
    },
  });
  return { log: createLogger({ stream, verbose }), lines, raw };
}

const fast = { reconnectMinMs: 10, reconnectMaxMs: 40, actionTimeoutMs: 500, heartbeatMs: 60_000 };

test('a wrong secret is a clear error log line and a retry with backoff, never an exception', async () => {
  const fake = new FakeAmiServer({ secret: 'right', loginFailureDelayMs: 5 });
  const port = await fake.start();
  const { log, lines } = capture();
  const session = new AmiSession({ host: '127.0.0.1', port, username: 'mitschnitt', secret: 'wrong', log, ...fast });
  let ready = 0;
  session.on('ready', () => ready++);
  session.start();
  await waitFor('three failed logins', () => lines.filter((l) => l.msg === 'AMI login failed: check the AMI user and its secret file').length >= 3);
  const failure = lines.find((l) => l.level === 'error')!;
  assert.is(failure.answer, 'Authentication failed');
  assert.is(failure.user, 'mitschnitt');
  assert.not.ok(JSON.stringify(lines).includes('wrong'), 'the secret is never logged');
  assert.is(ready, 0);
  assert.is(session.connected, false);
  await session.action('Ping').then(
    () => assert.unreachable('must reject'),
    (err: unknown) => assert.ok(err instanceof AmiError && /not connected/.test(err.message)),
  );
  await session.stop();
  await fake.stop();
});

test('unreachable Asterisk: logged, retried; once it listens the session logs in and reports ready', async () => {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const { log, lines } = capture();
  const session = new AmiSession({ host: '127.0.0.1', port, username: 'mitschnitt', secret: 'secret', log, ...fast });
  session.start();
  await waitFor('not reachable log', () => lines.some((l) => l.msg === 'AMI not reachable'));
  const fake = new FakeAmiServer();
  await fake.start(port);
  await new Promise<void>((resolve) => session.once('ready', () => resolve()));
  assert.is(session.connected, true);
  const pong = await session.action('Ping');
  assert.is(pong.message.get('Ping'), 'Pong');
  await session.stop();
  await fake.stop();
});

test('a dropped connection is noticed, re-established and announced again with ready (for the resync)', async () => {
  const fake = new FakeAmiServer();
  const port = await fake.start();
  const { log, lines } = capture();
  const session = new AmiSession({ host: '127.0.0.1', port, username: 'mitschnitt', secret: 'secret', log, ...fast });
  let ready = 0;
  let down = 0;
  session.on('ready', () => ready++);
  session.on('down', () => down++);
  session.start();
  await waitFor('first ready', () => ready === 1);
  fake.dropConnections();
  await waitFor('second ready', () => ready === 2);
  assert.is(down, 1);
  assert.ok(lines.some((l) => l.msg === 'AMI connection lost'));
  await session.stop();
  await fake.stop();
});

test('an action without answer is rejected after its timeout; a silent Asterisk is dropped by the heartbeat', async () => {
  // Asterisk that logs us in and then never answers again (hung manager thread).
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const mute = net.createServer((s) => {
    connections++;
    sockets.add(s);
    s.write('Asterisk Call Manager/11.0.0\r\n');
    s.once('data', (d) => {
      const id = /ActionID: (\S+)/.exec(d.toString())?.[1];
      s.write(`Response: Success\r\nActionID: ${id}\r\nMessage: Authentication accepted\r\n\r\n`);
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => mute.listen(0, '127.0.0.1', () => r()));
  const port = (mute.address() as net.AddressInfo).port;
  const { log, lines } = capture();
  const session = new AmiSession({ host: '127.0.0.1', port, username: 'u', secret: 's', log, ...fast, actionTimeoutMs: 100, heartbeatMs: 50 });
  session.start();
  await new Promise<void>((resolve) => session.once('ready', () => resolve()));
  await session.action('Getvar', { Variable: 'X' }, 80).then(
    () => assert.unreachable('must time out'),
    (err: unknown) => assert.match((err as Error).message, /no answer within 80 ms/),
  );
  await waitFor('heartbeat reconnect', () => lines.some((l) => l.msg === 'AMI heartbeat failed, reconnecting') && connections >= 2);
  await session.stop();
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => mute.close(() => r()));
});

test('--verbose logs AMI traffic as debug lines, with the secret masked', async () => {
  const fake = new FakeAmiServer({ secret: 'sup3r-secret-value' });
  const port = await fake.start();
  const { log, lines, raw } = capture(true);
  const session = new AmiSession({ host: '127.0.0.1', port, username: 'mitschnitt', secret: 'sup3r-secret-value', log, ...fast, verbose: true });
  session.start();
  await new Promise<void>((resolve) => session.once('ready', () => resolve()));
  await session.action('Ping');
  assert.ok(lines.some((l) => l.level === 'debug' && l.msg === 'ami send' && l.action === 'Login'));
  assert.ok(lines.some((l) => l.level === 'debug' && l.msg === 'ami recv'));
  assert.not.ok(raw.join('\n').includes('sup3r-secret-value'));
  await session.stop();
  await fake.stop();
});

test.run();
