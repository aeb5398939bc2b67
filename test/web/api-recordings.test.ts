import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { auditLogPath } from '../../runtime/web/audit-log.ts';
import { login, rawRequest, startHarness, writeRecording, type Harness, type SignedIn } from './support.ts';

const test = suite<{ h: Harness & { fixtures: Awaited<ReturnType<typeof startHarness>>['fixtures'] }; s: Record<string, SignedIn> }>('web recordings API');

test.before(async (ctx) => {
  ctx.h = await startHarness();
  ctx.s = {};
  for (const user of ['anna', 'ben', 'carla', 'eva', 'frank']) ctx.s[user] = await login(ctx.h.base, user);
});
test.after(async (ctx) => {
  await ctx.h.close();
});

interface Row {
  id: string;
  direction: string;
  own: boolean;
  peer: { number: string };
  decision: string;
  rule: string | null;
  ruleName: string | null;
  durationSeconds: number;
}

async function list(h: Harness, s: SignedIn, query = ''): Promise<{ status: number; rows: Row[]; next: string | null }> {
  const res = await fetch(`${h.base}/api/recordings${query}`, { headers: { Cookie: s.cookie } });
  const body = (await res.json()) as { rows: Row[]; next: string | null };
  return { status: res.status, rows: body.rows, next: body.next };
}

const ids = (rows: Row[]) => rows.map((r) => r.id.split('.')[0]);

test('each user sees exactly the calls they took part in, plus those they were given view rights over, newest first', async ({ h, s }) => {
  assert.equal(ids((await list(h, s.anna)).rows), ['1764000200', '1764000100', '1764000000']);
  assert.equal(ids((await list(h, s.ben)).rows), ['1764000300', '1764000200']);
  assert.equal(ids((await list(h, s.carla)).rows), ['1764000400']);
  assert.equal(ids((await list(h, s.eva)).rows), ['1764000300', '1764000200', '1764000100', '1764000000'], 'supervisor sees anna and ben');
  assert.equal((await list(h, s.frank)).rows, [], 'frank may view team 300 only');
});

test('rows are relative to the viewer: direction and other party as they saw the call; rule names from the policy', async ({ h, s }) => {
  const anna = (await list(h, s.anna)).rows.find((r) => r.id.startsWith('1764000200'))!;
  const ben = (await list(h, s.ben)).rows.find((r) => r.id.startsWith('1764000200'))!;
  assert.is(anna.direction, 'outbound');
  assert.is(anna.peer.number, '202');
  assert.is(ben.direction, 'inbound');
  assert.is(ben.peer.number, '201');
  assert.is(anna.decision, 'force');
  const eva = (await list(h, s.eva)).rows.find((r) => r.id.startsWith('1764000000'))!;
  assert.is(eva.own, false);
  assert.is(eva.ruleName, 'Vertrieb: externe Gespräche');
  assert.is(eva.durationSeconds, 3);
});

test('filters: direction, number (part of number or name), date range; bad values → 400', async ({ h, s }) => {
  assert.equal(ids((await list(h, s.anna, '?direction=inbound')).rows), ['1764000100']);
  assert.equal(ids((await list(h, s.eva, '?number=0401')).rows), ['1764000300']);
  assert.equal(ids((await list(h, s.eva, '?number=kunde')).rows), ['1764000100']);
  const from = new Date(2026, 10, 24, 10, 0).toISOString();
  const to = new Date(2026, 10, 24, 12, 0).toISOString();
  assert.equal(ids((await list(h, s.eva, `?from=${from}&to=${to}`)).rows), ['1764000200', '1764000100']);
  for (const q of ['?direction=sideways', '?from=yesterday', '?limit=0', '?limit=1000', '?cursor=bm9wZQ', `?number=${'1'.repeat(41)}`]) {
    assert.is((await list(h, s.eva, q)).status, 400, q);
  }
});

test('filters: REC/manual (decision), rule, participant (a user id or a number); never beyond what the viewer may see', async ({ h, s }) => {
  assert.equal(ids((await list(h, s.eva, '?decision=force')).rows), ['1764000200']);
  assert.equal(ids((await list(h, s.eva, '?decision=auto&rule=sales-external')).rows), ['1764000300', '1764000100', '1764000000']);
  assert.equal(ids((await list(h, s.carla, '?decision=manual&rule=support-manual')).rows), ['1764000400']);
  assert.equal(ids((await list(h, s.eva, '?participant=ben')).rows), ['1764000300', '1764000200']);
  assert.equal(ids((await list(h, s.eva, '?participant=0897654321')).rows), ['1764000100']);
  assert.equal((await list(h, s.ben, '?participant=carla')).rows, [], "carla's calls stay hidden from ben");
  assert.equal((await list(h, s.ben, '?participant=0305556667')).rows, [], "a number of carla's call stays hidden too");
  for (const q of ['?decision=none', `?rule=${'r'.repeat(65)}`, `?participant=${'1'.repeat(65)}`]) assert.is((await list(h, s.eva, q)).status, 400, q);
});

test('paging with a cursor walks every visible recording once, in order', async ({ h, s }) => {
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = await list(h, s.eva, `?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
    seen.push(...ids(page.rows));
    cursor = page.next;
    pages++;
  } while (cursor && pages < 10);
  assert.equal(seen, ['1764000300', '1764000200', '1764000100', '1764000000']);
  assert.is(pages, 4);
});

test('play streams the WAV; Range requests: bytes=0-99, suffix, open-ended → 206; unsatisfiable → 416', async ({ h, s, ...rest }) => {
  void rest;
  const { fixtures } = h;
  const id = '1764000000.11-1764000000';
  const bytes = fixtures.annaOut.bytes;
  const get = (range?: string) => fetch(`${h.base}/api/recordings/${id}/audio`, { headers: { Cookie: s.anna.cookie, ...(range ? { Range: range } : {}) } });
  const full = await get();
  assert.is(full.status, 200);
  assert.is(full.headers.get('content-type'), 'audio/wav');
  assert.is(full.headers.get('accept-ranges'), 'bytes');
  assert.ok(Buffer.from(await full.arrayBuffer()).equals(bytes));
  const first = await get('bytes=0-99');
  assert.is(first.status, 206);
  assert.is(first.headers.get('content-range'), `bytes 0-99/${bytes.length}`);
  assert.ok(Buffer.from(await first.arrayBuffer()).equals(bytes.subarray(0, 100)));
  const suffix = await get('bytes=-100');
  assert.is(suffix.status, 206);
  assert.is(suffix.headers.get('content-range'), `bytes ${bytes.length - 100}-${bytes.length - 1}/${bytes.length}`);
  assert.ok(Buffer.from(await suffix.arrayBuffer()).equals(bytes.subarray(bytes.length - 100)));
  const open = await get('bytes=1000-');
  assert.is(open.status, 206);
  assert.is(open.headers.get('content-length'), String(bytes.length - 1000));
  assert.ok(Buffer.from(await open.arrayBuffer()).equals(bytes.subarray(1000)));
  const beyond = await get(`bytes=${bytes.length}-`);
  assert.is(beyond.status, 416);
  assert.is(beyond.headers.get('content-range'), `bytes */${bytes.length}`);
  const clipped = await get(`bytes=${bytes.length - 10}-${bytes.length + 500}`);
  assert.is(clipped.status, 206);
  assert.is((await clipped.arrayBuffer()).byteLength, 10);
});

test('download: attachment with a sanitised file name, the exact bytes, audited', async ({ h, s }) => {
  const id = '1764000100.12-1764000100';
  const res = await fetch(`${h.base}/api/recordings/${id}/download`, { headers: { Cookie: s.anna.cookie } });
  assert.is(res.status, 200);
  assert.is(res.headers.get('content-disposition'), 'attachment; filename="2026-11-24_0897654321_1764000100-12-1764000100.wav"');
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(h.fixtures.annaIn.bytes));
  const log = readFileSync(auditLogPath(h.spool), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(log.some((e) => e.user === 'anna' && e.action === 'download' && e.recording === id && e.result === 'ok' && e.ip === '127.0.0.1'));
  assert.ok(log.some((e) => e.user === 'anna' && e.action === 'play' && e.result === 'ok'));
});

test("another user's recording: 404 for play and download (same answer as a missing id), and the attempt is audited", async ({ h, s }) => {
  const id = '1764000000.11-1764000000'; // anna's
  for (const kind of ['audio', 'download']) {
    const res = await fetch(`${h.base}/api/recordings/${id}/${kind}`, { headers: { Cookie: s.ben.cookie } });
    assert.is(res.status, 404, kind);
    assert.not.match(await res.text(), /RIFF/);
    const missing = await fetch(`${h.base}/api/recordings/1999999999.1-1999999999/${kind}`, { headers: { Cookie: s.ben.cookie } });
    assert.is(missing.status, 404);
  }
  const log = readFileSync(auditLogPath(h.spool), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(log.some((e) => e.user === 'ben' && e.recording === id && e.result === 'denied'));
});

test('path traversal, encoded and double-encoded, never reaches a file', async ({ h, s }) => {
  writeFileSync(join(h.dir, 'secret.wav'), 'RIFF-secret-not-a-recording');
  const paths = [
    '/api/recordings/../../secret.wav/audio',
    '/api/recordings/..%2f..%2fsecret.wav/audio',
    '/api/recordings/..%2F..%2F..%2Fsecret/download',
    '/api/recordings/%2e%2e%2f%2e%2e%2fsecret.wav/audio',
    '/api/recordings/%2e%2e/audio',
    '/api/recordings/%252e%252e%252fsecret.wav/audio',
    '/api/recordings/..%252f..%252fsecret.wav/download',
    '/api/recordings/..%5c..%5csecret.wav/audio',
    '/api/recordings/%2fetc%2fpasswd/audio',
    '/api/recordings/..../audio',
    '/api/recordings/1764000000.11-1764000000%00.wav/audio',
  ];
  for (const path of paths) {
    const res = await rawRequest(h.base, path, { headers: { Cookie: s.anna.cookie } });
    assert.ok(res.status === 404 || res.status === 400, `${path} → ${res.status}`);
    assert.not.match(res.body.toString(), /RIFF|root:/, path);
  }
});

test('a journal whose audio name points elsewhere is not indexed', async ({ h, s }) => {
  const r = writeRecording(h.spool, {
    id: '1764000500.16-1764000500',
    start: new Date(2026, 10, 24, 16, 0),
    seconds: 1,
    caller: { number: '201', userId: 'anna' },
    callee: { number: '0301' },
    direction: 'outbound',
  });
  const journal = JSON.parse(readFileSync(r.journal, 'utf8'));
  writeFileSync(r.journal, JSON.stringify({ ...journal, audio: '../../../secret.wav' }));
  await h.web.index.scan();
  assert.not.ok(h.web.index.get('1764000500.16-1764000500'));
  const res = await fetch(`${h.base}/api/recordings/1764000500.16-1764000500/audio`, { headers: { Cookie: s.anna.cookie } });
  assert.is(res.status, 404);
});

test('rescan picks up new journals (team numbers via canViewNumbers), skips pending sidecars and temp files, drops deleted ones', async ({ h, s }) => {
  const team = writeRecording(h.spool, {
    id: '1764000600.17-1764000600',
    start: new Date(2026, 10, 24, 17, 0),
    seconds: 1,
    caller: { number: '0309998887' },
    callee: { number: '300', name: 'Kundendienst' },
    direction: 'inbound',
  });
  const dir = dirname(team.journal);
  writeFileSync(join(dir, '1764000700.18-1764000700.pending.json'), JSON.stringify({ id: '1764000700.18-1764000700' }));
  writeFileSync(join(dir, '1764000800.19-1764000800.json.tmp-123-abc'), '{"half":');
  writeFileSync(join(dir, '.1764000900.20-1764000900.json'), '{}');
  mkdirSync(join(h.spool, 'lost+found'), { recursive: true });
  await h.web.index.scan();
  assert.equal(ids((await list(h, s.frank)).rows), ['1764000600']);
  assert.not.ok(h.web.index.get('1764000700.18-1764000700'));
  rmSync(team.journal);
  rmSync(team.audio);
  const { removed } = await h.web.index.scan();
  assert.is(removed, 1);
  assert.equal((await list(h, s.frank)).rows, []);
});

test('the journal hook only accepts journals inside the spool day folders', async ({ h }) => {
  const outside = join(h.dir, 'elsewhere', '2026', '11', '24');
  mkdirSync(outside, { recursive: true });
  const r = writeRecording(join(h.dir, 'elsewhere'), {
    id: '1764000950.22-1764000950',
    start: new Date(2026, 10, 24, 19, 0),
    seconds: 1,
    caller: { number: '201', userId: 'anna' },
    callee: { number: '0301' },
    direction: 'outbound',
  });
  assert.is(await h.web.index.add(r.journal), undefined);
  assert.not.ok(h.web.index.get('1764000950.22-1764000950'));
});

test('a recording deleted by retention before the rescan answers 404 and leaves the index', async ({ h, s }) => {
  const r = writeRecording(h.spool, {
    id: '1764001000.21-1764001000',
    start: new Date(2026, 10, 24, 18, 0),
    seconds: 1,
    caller: { number: '401', userId: 'eva' },
    callee: { number: '0301' },
    direction: 'outbound',
  });
  await h.web.index.add(r.journal);
  rmSync(r.audio);
  const res = await fetch(`${h.base}/api/recordings/1764001000.21-1764001000/audio`, { headers: { Cookie: s.eva.cookie } });
  assert.is(res.status, 404);
  assert.not.ok(h.web.index.get('1764001000.21-1764001000'));
});

test.run();
