// settings.smtp.security 'tls' and 'starttls' against real TLS SMTP servers with a certificate made for the test:
// mails go out encrypted, the certificate is verified, and 'starttls' never falls back to plain text.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Smtp } from '../../generator/rule-set.ts';
import { enqueueDelivery } from '../../runtime/delivery-queue.ts';
import { makeWorkspace, startSmtp, testPolicy, writePolicy, writeRecording } from './support.ts';

let ws: Awaited<ReturnType<typeof makeWorkspace>>;
let tls: { key: Buffer; cert: Buffer; certPath: string };
const servers: { close(): Promise<void> }[] = [];

test.before(async () => {
  ws = await makeWorkspace();
  const keyPath = join(ws.root, 'smtp.key');
  const certPath = join(ws.root, 'smtp.crt');
  const made = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(made.stderr);
  tls = { key: await readFile(keyPath), cert: await readFile(certPath), certPath };
  await writeFile(join(ws.secrets, 'smtp'), 'pw\n');
});
test.after(async () => {
  while (servers.length) await servers.pop()!.close();
  await rm(ws.root, { recursive: true, force: true });
});

/** Queues one recording, runs `mitschnitt deliver` as a process (trusting `ca` if given), returns its exit code. */
async function deliverOnce(smtp: Partial<Smtp> & { port: number }, ca: string | null, tag: string): Promise<{ code: number | null; out: string }> {
  const spool = join(ws.root, `spool-${tag}`);
  const rec = await writeRecording(spool, { start: new Date('2026-11-20T10:00:00Z') });
  await enqueueDelivery(spool, { id: rec.id, audio: rec.audio, journal: rec.journal, rule: 'sales-external', email: ['a@example.com'] });
  const config = join(ws.root, `config-${tag}`);
  await mkdir(config, { recursive: true });
  await writePolicy(config, testPolicy({ spool, secretsDir: ws.secrets, smtp: { host: '127.0.0.1', user: 'u@example.com', password: 'smtp', ...smtp } }));
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  if (ca) env.NODE_EXTRA_CA_CERTS = ca;
  const child = spawn(process.execPath, ['bin/mitschnitt.js', 'deliver', '--config', config], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, out };
}

async function server(implicit: boolean | null) {
  const s = await startSmtp({ auth: { user: 'u@example.com', pass: 'pw' }, ...(implicit === null ? {} : { tls: { key: tls.key, cert: tls.cert, implicit } }) });
  servers.push(s);
  return s;
}

test("security 'tls' (port 465 style): delivered over implicit TLS with a verified certificate", async () => {
  const smtp = await server(true);
  const r = await deliverOnce({ port: smtp.port, security: 'tls' }, tls.certPath, 'tls');
  assert.is(r.code, 0, r.out);
  assert.is(smtp.received.length, 1);
  assert.is(smtp.received[0]!.secure, true);
  assert.is(smtp.received[0]!.user, 'u@example.com');
});

test("security 'starttls': upgraded before login and sending", async () => {
  const smtp = await server(false);
  const r = await deliverOnce({ port: smtp.port, security: 'starttls' }, tls.certPath, 'starttls');
  assert.is(r.code, 0, r.out);
  assert.is(smtp.received.length, 1);
  assert.is(smtp.received[0]!.secure, true);
});

test('an untrusted certificate fails the delivery (kept for retry), nothing is sent', async () => {
  const smtp = await server(true);
  const r = await deliverOnce({ port: smtp.port, security: 'tls' }, null, 'untrusted');
  assert.is(r.code, 1);
  assert.match(r.out, /self-signed certificate|unable to verify/);
  assert.match(r.out, /"pending":1/);
  assert.is(smtp.received.length, 0);
});

test("'starttls' against a server without STARTTLS refuses to send in plain text", async () => {
  const smtp = await server(null);
  const r = await deliverOnce({ port: smtp.port, security: 'starttls' }, tls.certPath, 'plain');
  assert.is(r.code, 1);
  assert.match(r.out, /"pending":1/);
  assert.is(smtp.received.length, 0);
});

test.run();
