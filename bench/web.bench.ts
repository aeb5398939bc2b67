// Web client journal API on a spool with 100,000 journals: start-up scan time, index memory (heap delta),
// and request latency (first page, filtered pages, a deep cursor page, an unchanged rescan). Figures only.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Policy, PolicyUser } from '../generator/policy.ts';
import { createHttpServer } from '../runtime/http-server.ts';
import { silentLogger } from '../runtime/log.ts';
import { hashPassword } from '../runtime/web/password-hash.ts';
import { createWebClient } from '../runtime/web/routes.ts';
import { storeWebUserHash } from '../runtime/web/web-users-file.ts';
import { MemoryCallControl, testPolicy } from '../test/web/support.ts';
import { prng } from '../test/support/prng.ts';

const JOURNALS = 100_000;
const USERS = 200;
const DAYS = 365;
const REQUESTS = 200;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};


const dir = mkdtempSync(join(tmpdir(), 'mitschnitt-web-bench-'));
const spool = join(dir, 'spool');
const secrets = join(dir, 'secrets');
const rand = prng(7);
const int = (n: number) => Math.floor(rand() * n);

const users: Record<string, PolicyUser> = {};
for (let i = 0; i < USERS; i++) {
  users[`u${i}`] = { id: `u${i}`, name: `User ${i}`, ext: String(1000 + i), host: 'pbx-test', phones: [], mayRecordManually: false, canViewUsers: [], canViewNumbers: [] };
}
// A supervisor who may view 20 users' recordings (about a tenth of all).
users.u0.canViewUsers = Array.from({ length: 20 }, (_, i) => `u${i + 1}`);
const policy: Policy = { ...testPolicy(spool, secrets), users };

let t = performance.now();
const end = new Date(2026, 10, 25).getTime();
for (let i = 0; i < JOURNALS; i++) {
  const start = new Date(end - int(DAYS * 86_400_000));
  const day = join(spool, String(start.getFullYear()), String(start.getMonth() + 1).padStart(2, '0'), String(start.getDate()).padStart(2, '0'));
  if (i === 0 || int(50) === 0) mkdirSync(day, { recursive: true });
  const epoch = Math.floor(start.getTime() / 1000);
  const id = `${epoch}.${i}-${epoch}`;
  const u = int(USERS);
  const me = { number: String(1000 + u), name: `User ${u}`, userId: `u${u}` };
  const other = { number: `0${30_000_000 + int(9_000_000)}` };
  const outbound = rand() < 0.5;
  mkdirSync(day, { recursive: true });
  writeFileSync(
    join(day, `${id}.json`),
    JSON.stringify({
      version: 1, id, audio: `${id}.wav`, host: 'pbx-test', start: start.toISOString(), end: new Date(start.getTime() + 90_000).toISOString(),
      durationSeconds: 30 + int(600), caller: outbound ? me : other, callee: outbound ? other : me, participants: [me, other],
      direction: outbound ? 'outbound' : 'inbound', origin: 'external', decision: 'auto', rule: 'sales-external', sizeBytes: 1_000_000,
      sha256: '0'.repeat(64), previousHash: null, channel: 'PJSIP/x', uniqueid: `${epoch}.${i}`, linkedid: `${epoch}.${i}`, retentionDays: 90,
    }),
  );
}
console.log(`wrote ${JOURNALS} journals over ${DAYS} days in ${((performance.now() - t) / 1000).toFixed(1)} s`);
for (const id of ['u0', 'u5']) await storeWebUserHash(secrets, id, await hashPassword(`password-${id}`));

const heapBefore = heap();
t = performance.now();
const web = createWebClient({ policy, log: silentLogger, calls: new MemoryCallControl(), rescanIntervalMs: 0 });
await web.ready;
const scanMs = performance.now() - t;
const heapAfter = heap();
console.log(`start-up scan: ${web.index.size} journals indexed in ${(scanMs / 1000).toFixed(2)} s`);
console.log(`index heap: ${((heapAfter - heapBefore) / 1024 / 1024).toFixed(1)} MiB (${Math.round((heapAfter - heapBefore) / web.index.size)} bytes per journal)`);
t = performance.now();
await web.index.scan();
console.log(`rescan without changes: ${(performance.now() - t).toFixed(0)} ms`);
// The floor for the start-up scan: reading and parsing the same files, nothing else.
t = performance.now();
let parsed = 0;
for (const y of readdirSync(spool).filter((n) => /^\d{4}$/.test(n)))
  for (const m of readdirSync(join(spool, y)))
    for (const d of readdirSync(join(spool, y, m)))
      for (const f of readdirSync(join(spool, y, m, d))) parsed += JSON.parse(readFileSync(join(spool, y, m, d, f), 'utf8')) ? 1 : 0;
console.log(`floor: readFileSync + JSON.parse of the ${parsed} journals: ${((performance.now() - t) / 1000).toFixed(2)} s`);

const server = createHttpServer(web.routes, silentLogger);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

async function cookieFor(user: string): Promise<string> {
  const res = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user, password: `password-${user}` }) });
  return res.headers.get('set-cookie')!.split(';')[0];
}

async function measure(label: string, cookie: string, query: () => string): Promise<void> {
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < REQUESTS; i++) {
    const started = performance.now();
    const res = await fetch(`${base}/api/recordings${query()}`, { headers: { Cookie: cookie } });
    const body = (await res.json()) as { rows: unknown[] };
    times.push(performance.now() - started);
    rows += body.rows.length;
  }
  times.sort((a, b) => a - b);
  const p = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(2);
  console.log(`${label.padEnd(52)} p50 ${p(0.5)} ms  p99 ${p(0.99)} ms  (${(rows / REQUESTS).toFixed(1)} rows/answer)`);
}

const user = await cookieFor('u5');
const supervisor = await cookieFor('u0');
const firstPage = await (await fetch(`${base}/api/recordings?limit=50`, { headers: { Cookie: user } })).json() as { next: string };
let deep = firstPage.next;
for (let i = 0; i < 9; i++) deep = ((await (await fetch(`${base}/api/recordings?limit=50&cursor=${deep}`, { headers: { Cookie: user } })).json()) as { next: string }).next;
const month = `from=${new Date(2026, 5, 1).toISOString()}&to=${new Date(2026, 6, 1).toISOString()}`;

await measure('warm-up (not a figure)', user, () => '?limit=50');
await measure('user, first page (50)', user, () => '?limit=50');
await measure('user, filtered: inbound + number part', user, () => '?limit=50&direction=inbound&number=03');
await measure('user, filtered: one month', user, () => `?limit=50&${month}`);
await measure('user, page 11 via cursor', user, () => `?limit=50&cursor=${deep}`);
await measure('user, number that matches nothing (full walk)', user, () => '?limit=50&number=99999999999');
await measure('supervisor (21 users), first page', supervisor, () => '?limit=50');
await measure('supervisor, filtered: outbound + one month', supervisor, () => `?limit=50&direction=outbound&${month}`);

web.close();
server.closeAllConnections();
await new Promise((r) => server.close(r));
rmSync(dir, { recursive: true, force: true });
