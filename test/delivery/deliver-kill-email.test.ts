// `mitschnitt deliver` by e-mail killed mid-batch (SIGKILL) against a real SMTP server (smtp-server on 127.0.0.1):
// nothing is lost, and the only mail that can arrive twice is the one in flight at the kill, with the same
// Message-ID (the receiver can recognise it). The server holds that mail's final answer until the sender is dead,
// as a busy MTA might, and then accepts it: the worst case.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { SMTPServer } from 'smtp-server';
import { enqueueDelivery, queueDir } from '../../runtime/delivery-queue.ts';
import { makeWorkspace, testPolicy, writePolicy, writeRecording } from './support.ts';

const MAILS = 12;
const IN_FLIGHT = 5; // the 5th mail is in flight when the run is killed

type Workspace = Awaited<ReturnType<typeof makeWorkspace>>;
let ws: Workspace;
const received: string[] = [];
let holdFifth: (() => void) | undefined;
let fifthArrived: () => void = () => {};
const fifth = new Promise<void>((resolve) => (fifthArrived = resolve));

const server = new SMTPServer({
  disabledCommands: ['STARTTLS', 'AUTH'],
  authOptional: true,
  logger: false,
  onData(stream, _session, callback) {
    let head = '';
    stream.on('data', (chunk: Buffer) => (head += head.length < 4096 ? chunk.toString('latin1') : ''));
    stream.on('end', () => {
      const id = /^Message-ID:\s*(<[^>]*>)/im.exec(head)?.[1] ?? '(none)';
      const accept = () => {
        received.push(id);
        callback();
      };
      if (received.length === IN_FLIGHT - 1 && !holdFifth) {
        holdFifth = accept;
        fifthArrived();
      } else accept();
    });
  },
});
server.on('error', () => undefined); // the killed client resets its connection

test.before(async () => {
  ws = await makeWorkspace('mitschnitt-kill-email-');
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await writePolicy(ws.config, testPolicy({ spool: ws.spool, smtp: { host: '127.0.0.1', port } }));
  for (let i = 0; i < MAILS; i++) {
    const at = new Date(Date.UTC(2026, 10, 20, 17, i));
    const rec = await writeRecording(ws.spool, { start: at, uniqueid: `1763658000.${i}` });
    await enqueueDelivery(ws.spool, { id: rec.id, audio: rec.audio, journal: rec.journal, rule: 'sales-external', email: ['archiv@example.com'] }, at);
  }
});
test.after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(ws.root, { recursive: true, force: true });
});

function deliver() {
  const child = spawn(process.execPath, ['bin/mitschnitt.js', 'deliver', '--config', ws.config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const done = new Promise<{ code: number | null; out: string }>((resolve) => child.on('close', (code) => resolve({ code, out })));
  return { child, done };
}

test('killed while a mail is in flight: the next run sends the rest; every recording arrives, only the in-flight one twice', async () => {
  const first = deliver();
  await fifth;
  first.child.kill('SIGKILL');
  await first.done;
  holdFifth!(); // the server accepts the in-flight mail after all
  assert.is(received.length, IN_FLIGHT);
  assert.is((await readdir(queueDir(ws.spool, 'delivered'))).length, IN_FLIGHT - 1, 'the four answered mails are recorded as delivered');

  const second = await deliver().done;
  assert.is(second.code, 0, second.out);
  const counts = new Map<string, number>();
  for (const id of received) counts.set(id, (counts.get(id) ?? 0) + 1);
  assert.is(counts.size, MAILS, 'every recording was mailed');
  assert.equal([...counts.values()].filter((n) => n > 1), [2], 'exactly one mail twice');
  const twice = [...counts].find(([, n]) => n === 2)![0];
  assert.is(twice, received[IN_FLIGHT - 1], 'the one in flight at the kill');
  assert.match(twice, /^<1763658000\.4-\d+\.0@mitschnitt\.pbx-test>$/, 'with the same stable Message-ID');
  assert.equal(await readdir(queueDir(ws.spool)), []);
  assert.is((await readdir(queueDir(ws.spool, 'delivered'))).length, MAILS);
});

test.run();
