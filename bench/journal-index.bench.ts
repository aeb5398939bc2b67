// The web journal index at call-centre scale: BENCH_INDEX_JOURNALS journals (default 100,000 so `npm run bench`
// stays short; the README figures are for 1,000,000) over 100 days, 200 users, a supervisor who views 20 of them.
// The web client runs in its own process (bench/journal-index-server.ts): time from start to the first journal
// page answered, cold (no index file: built from the journals) and warm (index file present); its RSS; page and
// filter latencies p50/p99 over HTTP; how long a new journal takes to show up (SSE event, then in the list).
// (Replaces bench/web.bench.ts, which measured the in-memory index this one replaced.)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Policy, PolicyUser } from '../generator/policy.ts';
import { hashPassword } from '../runtime/web/password-hash.ts';
import { indexPath } from '../runtime/web/journal-store.ts';
import { storeWebUserHash } from '../runtime/web/web-users-file.ts';
import { login, openEvents, testPolicy, type Harness, type SignedIn } from '../test/web/support.ts';
import { prng } from '../test/support/prng.ts';

const JOURNALS = Number(process.env.BENCH_INDEX_JOURNALS ?? 100_000);
const USERS = 200;
const DAYS = 100;
const REQUESTS = Number(process.env.BENCH_INDEX_REQUESTS ?? 200);
const repo = fileURLToPath(new URL('..', import.meta.url));

const dir = mkdtempSync(join(tmpdir(), 'mitschnitt-index-bench-'));
const spool = join(dir, 'spool');
const secrets = join(dir, 'secrets');
const rand = prng(7);
const int = (n: number) => Math.floor(rand() * n);
const pad = (n: number) => String(n).padStart(2, '0');

const users: Record<string, PolicyUser> = {};
for (let i = 0; i < USERS; i++) {
  users[`u${i}`] = { id: `u${i}`, name: `User ${i}`, ext: String(1000 + i), host: 'pbx-test', phones: [], mayRecordManually: false, canViewUsers: [], canViewNumbers: [] };
}
users.u0.canViewUsers = Array.from({ length: 20 }, (_, i) => `u${i + 1}`);
const policy: Policy = { ...testPolicy(spool, secrets), users };
const policyFile = join(dir, 'policy.json');

let server: ChildProcess | undefined;
try {
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model}); ${JOURNALS.toLocaleString('en')} journals over ${DAYS} days, ${USERS} users`);
  let t = performance.now();
  // Written the way JournalWriter formats them (pretty JSON), without its fsync and hash chain: that would take hours.
  const end = new Date(2026, 10, 25).getTime();
  const made = new Set<string>();
  const customers = Array.from({ length: 50_000 }, () => `0${30_000_000 + int(9_000_000)}`);
  for (let i = 0; i < JOURNALS; i++) {
    const start = new Date(end - int(DAYS * 86_400_000));
    const day = join(spool, String(start.getFullYear()), pad(start.getMonth() + 1), pad(start.getDate()));
    if (!made.has(day)) mkdirSync(day, { recursive: true }), made.add(day);
    const epoch = Math.floor(start.getTime() / 1000);
    const id = `${epoch}.${i}-${epoch}`;
    const u = int(USERS);
    const me = { number: String(1000 + u), name: `User ${u}`, userId: `u${u}` };
    const other = { number: customers[int(customers.length)] };
    const outbound = rand() < 0.5;
    const manual = rand() < 0.1;
    writeFileSync(
      join(day, `${id}.json`),
      `${JSON.stringify(
        {
          version: 1, id, audio: `${id}.wav`, host: 'pbx-test', start: start.toISOString(), end: new Date(start.getTime() + 90_000).toISOString(),
          durationSeconds: 30 + int(600), caller: outbound ? me : other, callee: outbound ? other : me, participants: [me, other],
          direction: outbound ? 'outbound' : 'inbound', origin: 'external', decision: manual ? 'manual' : 'auto',
          rule: manual ? 'support-manual' : 'sales-external', sizeBytes: 1_000_000, sha256: '0'.repeat(64), previousHash: '0'.repeat(64),
          channel: 'PJSIP/x', uniqueid: `${epoch}.${i}`, linkedid: `${epoch}.${i}`, retentionDays: 90,
        },
        null,
        2,
      )}\n`,
    );
  }
  console.log(`(setup: wrote the journals in ${((performance.now() - t) / 1000).toFixed(1)} s)`);
  // The floor of a cold build: reading and parsing the same files, nothing else.
  t = performance.now();
  let parsed = 0;
  for (const y of readdirSync(spool).filter((n) => /^\d{4}$/.test(n)))
    for (const m of readdirSync(join(spool, y)))
      for (const d of readdirSync(join(spool, y, m)))
        for (const f of readdirSync(join(spool, y, m, d))) parsed += JSON.parse(readFileSync(join(spool, y, m, d, f), 'utf8')) ? 1 : 0;
  console.log(`floor of a cold build: readFileSync + JSON.parse of the ${parsed.toLocaleString('en')} journals: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  writeFileSync(policyFile, JSON.stringify(policy));
  for (const id of ['u0', 'u5']) await storeWebUserHash(secrets, id, await hashPassword(`password-${id}`));

  const cold = await startAndFirstPage();
  const coldMemory = await memoryOnceReady(cold.base, 200);
  console.log(
    `cold start (no index file): first page after ${(cold.firstPageMs / 1000).toFixed(2)} s (HTTP up after ${(cold.upMs / 1000).toFixed(2)} s; ` +
      `newest days are indexed first), index complete after ${(coldMemory.readyAfterMs / 1000).toFixed(1)} s; RSS ${coldMemory.rssMB.toFixed(0)} MB, ` +
      `peak ${coldMemory.peakMB.toFixed(0)} MB; index file ${(statSync(indexPath(spool)).size / 1048576).toFixed(0)} MB`,
  );
  await stop();
  const warm = await startAndFirstPage();
  const warmReady = (await memoryOnceReady(warm.base, 50)).readyAfterMs;
  console.log(
    `warm start (index file present, no change): first page after ${(warm.firstPageMs / 1000).toFixed(2)} s (goal < 2 s; HTTP up after ` +
      `${(warm.upMs / 1000).toFixed(2)} s, of which Node + tsx loading the sources is most; day folders checked after ${(warmReady / 1000).toFixed(2)} s)`,
  );

  const base = warm.base;
  const user = await cookieFor(base, 'u5');
  const supervisor = await cookieFor(base, 'u0');
  const get = async (cookie: string, query: string) => (await (await fetch(`${base}/api/recordings${query}`, { headers: { Cookie: cookie } })).json()) as { rows: { id: string; peer: { number: string } }[]; next: string };
  let deep = (await get(user, '?limit=50')).next;
  for (let i = 0; i < 9 && deep; i++) deep = (await get(user, `?limit=50&cursor=${deep}`)).next ?? deep;
  const customer = (await get(user, '?limit=50')).rows.find((r) => r.peer.number.startsWith('0'))!.peer.number;
  const month = `from=${new Date(2026, 9, 1).toISOString()}&to=${new Date(2026, 10, 1).toISOString()}`;

  const cases: [string, string, string][] = [
    ['warm-up (not a figure)', user, '?limit=50'],
    ['user: first page (50)', user, '?limit=50'],
    ['user: page 11 via cursor', user, `?limit=50&cursor=${deep}`],
    ['user: date (one month)', user, `?limit=50&${month}`],
    ['user: number part (common: "03")', user, '?limit=50&number=03'],
    ['user: number part (one customer, last 6 digits)', user, `?limit=50&number=${customer.slice(-6)}`],
    ['user: number part matching nothing', user, '?limit=50&number=99999999999'],
    ['user: number part, 2 characters (walks the lists)', user, '?limit=50&number=99'],
    ['user: participant (one customer number)', user, `?limit=50&participant=${customer}`],
    ['user: rule', user, '?limit=50&rule=support-manual'],
    ['user: manual only (REC/manual)', user, '?limit=50&decision=manual'],
    ['user: inbound + manual + one month', user, `?limit=50&direction=inbound&decision=manual&${month}`],
    ['supervisor (21 users): first page', supervisor, '?limit=50'],
    ['supervisor: participant (one agent)', supervisor, '?limit=50&participant=u7'],
    ['supervisor: participant (one customer number)', supervisor, `?limit=50&participant=${customer}`],
    ['supervisor: manual + one month', supervisor, `?limit=50&decision=manual&${month}`],
    ['supervisor: rule + outbound', supervisor, '?limit=50&rule=support-manual&direction=outbound'],
    ['supervisor: number part (one customer)', supervisor, `?limit=50&number=${customer.slice(-6)}`],
  ];
  for (const [label, cookie, query] of cases) await measure(base, label, cookie, query);

  // A new recording: journal written by JournalWriter (fsync, hash chain), announced by the hook, pushed by SSE.
  const events = openEvents({ base } as Harness, { cookie: user } as SignedIn);
  await events.opened;
  const sse: number[] = [];
  const listed: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const { id } = (await (await fetch(`${base}/bench/journal`, { method: 'POST' })).json()) as { id: string };
    await events.until(i + 1);
    sse.push(performance.now() - t0);
    if ((await get(user, '?limit=1')).rows[0]?.id !== id) throw new Error('new journal not first in the list');
    listed.push(performance.now() - t0);
  }
  events.close();
  const p = (xs: number[], q: number) => percentile(xs, q).toFixed(1);
  console.log(`new recording visible: SSE event p50 ${p(sse, 0.5)} ms, p99 ${p(sse, 0.99)} ms; in the list p50 ${p(listed, 0.5)} ms, p99 ${p(listed, 0.99)} ms (goal < 1 s; includes the journal's fsync)`);
  const rescan = (await (await fetch(`${base}/bench/rescan`, { method: 'POST' })).json()) as { ms: number; daysListed: number };
  console.log(`periodic rescan (finds journals nobody announced): ${rescan.ms.toFixed(0)} ms, ${rescan.daysListed} day folder(s) listed`);
  const after = await memory(base);
  console.log(`warm process after all requests: RSS ${after.rssMB.toFixed(0)} MB, peak ${after.peakMB.toFixed(0)} MB (goal < 150 MB)`);
} finally {
  await stop();
  // rm(1) removes a million files several times faster than Node's recursive rmSync.
  spawnSync('rm', ['-rf', dir]);
}

async function startAndFirstPage(): Promise<{ base: string; upMs: number; firstPageMs: number }> {
  const t0 = performance.now();
  server = spawn(process.execPath, ['--import', 'tsx', join(repo, 'bench/journal-index-server.ts'), spool, secrets, policyFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = (await createInterface({ input: server.stdout! })[Symbol.asyncIterator]().next()).value as string;
  const base = `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`;
  const upMs = performance.now() - t0;
  const cookie = await cookieFor(base, 'u5');
  const res = await fetch(`${base}/api/recordings?limit=50`, { headers: { Cookie: cookie } });
  const body = (await res.json()) as { rows: unknown[] };
  if (body.rows.length !== 50) throw new Error(`first page has ${body.rows.length} rows`);
  return { base, upMs, firstPageMs: performance.now() - t0 };
}

async function stop(): Promise<void> {
  if (!server || server.exitCode !== null) return;
  const done = new Promise((r) => server!.once('exit', r));
  server.kill('SIGTERM');
  await done;
}

async function memory(base: string): Promise<{ rssMB: number; peakMB: number; readyAfterMs: number | null }> {
  return (await (await fetch(`${base}/bench/memory`)).json()) as { rssMB: number; peakMB: number; readyAfterMs: number | null };
}

/** The web client's figures once its start-up scan has finished. */
async function memoryOnceReady(base: string, pollMs: number): Promise<{ rssMB: number; peakMB: number; readyAfterMs: number }> {
  for (;;) {
    const m = await memory(base);
    if (m.readyAfterMs !== null) return { ...m, readyAfterMs: m.readyAfterMs };
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

async function cookieFor(base: string, id: string): Promise<string> {
  return (await login(base, id, `password-${id}`)).cookie;
}

/** Nearest-rank quantile. */
function percentile(xs: number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function measure(base: string, label: string, cookie: string, query: string): Promise<void> {
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < REQUESTS; i++) {
    const started = performance.now();
    const res = await fetch(`${base}/api/recordings${query}`, { headers: { Cookie: cookie } });
    const body = (await res.json()) as { rows: unknown[] };
    times.push(performance.now() - started);
    rows += body.rows.length;
  }
  const p = (q: number) => percentile(times, q).toFixed(2);
  console.log(`${label.padEnd(52)} p50 ${p(0.5).padStart(7)} ms  p99 ${p(0.99).padStart(7)} ms  (${(rows / REQUESTS).toFixed(1)} rows)`);
}
