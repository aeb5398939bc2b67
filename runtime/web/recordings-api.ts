import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Policy } from '../../generator/policy.ts';
import type { Route } from '../http-server.ts';
import { canView } from './access.ts';
import { complianceMarksFor } from './compliance-marks.ts';
import { BadRequest, clientIp, queryOf, sendError, sendJson } from './http-util.ts';
import { toRow, type JournalFilter } from './journal-index.ts';
import { parseRange } from './range.ts';
import { audioPathOf, isRecordingId, type RecordingSummary } from './recording-summary.ts';
import { api, signedIn, type Signed, type WebContext } from './web-context.ts';

const MAX_LIMIT = 200;

function parseTime(value: string | null, name: string): number | undefined {
  if (!value) return undefined;
  const t = Date.parse(value);
  if (!Number.isFinite(t)) throw new BadRequest(`${name} must be an ISO-8601 date or time`);
  return t;
}

function parseFilter(q: URLSearchParams, policy: Policy): JournalFilter {
  const direction = q.get('direction') || undefined;
  if (direction !== undefined && direction !== 'inbound' && direction !== 'outbound') throw new BadRequest('direction must be inbound or outbound');
  const number = q.get('number')?.trim() || undefined;
  if (number !== undefined && number.length > 40) throw new BadRequest('number filter is too long');
  const filter: JournalFilter = { from: parseTime(q.get('from'), 'from'), to: parseTime(q.get('to'), 'to'), number, direction };
  const decision = q.get('decision') || undefined;
  if (decision !== undefined) {
    if (decision !== 'auto' && decision !== 'force' && decision !== 'manual') throw new BadRequest('decision must be auto, force or manual');
    filter.decision = decision;
  }
  const rule = q.get('rule') || undefined;
  if (rule !== undefined) {
    if (rule.length > 64) throw new BadRequest('rule filter is too long');
    filter.rule = rule;
  }
  // A user id (their recordings, also those journaled with their extension only) or a number, matched exactly.
  const participant = q.get('participant')?.trim() || undefined;
  if (participant !== undefined) {
    if (participant.length > 64) throw new BadRequest('participant filter is too long');
    const user = Object.hasOwn(policy.users, participant) ? policy.users[participant] : undefined;
    filter.participant = user ? { users: [user.id], numbers: [user.ext] } : { users: [], numbers: [participant] };
  }
  return filter;
}

async function list(ctx: WebContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const signed = signedIn(ctx, req, res, false);
  if (!signed) return;
  const q = queryOf(req);
  const limit = q.has('limit') ? Number(q.get('limit')) : 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new BadRequest(`limit must be 1…${MAX_LIMIT}`);
  const filter = parseFilter(q, ctx.policy);
  const cursor = q.get('cursor') ?? undefined;
  let page;
  try {
    // While a big spool's index is rebuilt (newest days first), pages it already holds completely are answered.
    for (;;) {
      page = ctx.index.queryIfComplete(signed.viewer, filter, limit, cursor);
      if (page) break;
      if (res.destroyed) return; // the browser gave up waiting
      await ctx.index.whenAdvanced();
    }
  } catch (err) {
    if (err instanceof RangeError) throw new BadRequest('invalid cursor');
    throw err;
  }
  const marks = complianceMarksFor(ctx.policy);
  await marks.refresh(page.summaries);
  const rows = page.rows.map((r, i) => ({
    ...r,
    ruleName: r.rule && Object.hasOwn(ctx.policy.rules, r.rule) ? ctx.policy.rules[r.rule].name : null,
    ...marks.of(page.summaries[i]),
  }));
  sendJson(res, 200, { rows, next: page.next ?? null });
}

/** `2026-11-25_0301234567_<id>.wav`: only characters that are safe in every file system and header. */
export function downloadName(recording: RecordingSummary, peer: string, timeZoneOffsetMinutes = new Date(recording.start).getTimezoneOffset()): string {
  const local = new Date(recording.start - timeZoneOffsetMinutes * 60_000).toISOString().slice(0, 10);
  const safe = (s: string) => s.replace(/[^0-9A-Za-z+_-]/g, '_').slice(0, 40) || 'unknown';
  return `${local}_${safe(peer)}_${safe(recording.id.replace(/\./g, '-'))}.wav`;
}

/**
 * Audio of one recording, by id only: looked up in the index and checked with `canView`; an unknown id and a
 * recording of someone else get the same 404, so ids of other people's recordings cannot be probed.
 */
async function audio(ctx: WebContext, req: IncomingMessage, res: ServerResponse, rawId: string, download: boolean): Promise<void> {
  const signed = signedIn(ctx, req, res, false);
  if (!signed) return;
  const ip = clientIp(req);
  const action = download ? 'download' : 'play';
  const id = isRecordingId(rawId) ? rawId : undefined;
  let recording = id ? ctx.index.get(id) : undefined;
  if (id && !recording) {
    await ctx.indexReady; // the index may still be reading older day folders
    recording = ctx.index.get(id);
  }
  if (!recording || !canView(signed.viewer, recording)) {
    await ctx.audit.append({ user: signed.viewer.userId, action, recording: rawId.slice(0, 200), ip, result: recording ? 'denied' : 'not-found' });
    return sendError(res, 404, 'not-found', 'No such recording.');
  }
  let file;
  try {
    file = await open(audioPathOf(recording), 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    ctx.index.remove(recording.id); // deleted by retention since the last scan
    await ctx.audit.append({ user: signed.viewer.userId, action, recording: recording.id, ip, result: 'not-found' });
    return sendError(res, 404, 'not-found', 'No such recording.');
  }
  try {
    await send(ctx, req, res, signed, recording, file, download, ip);
  } finally {
    await file.close().catch(() => {});
  }
}

async function send(
  ctx: WebContext,
  req: IncomingMessage,
  res: ServerResponse,
  signed: Signed,
  recording: RecordingSummary,
  file: import('node:fs/promises').FileHandle,
  download: boolean,
  ip: string,
): Promise<void> {
  const { size } = await file.stat();
  const range = parseRange(typeof req.headers.range === 'string' ? req.headers.range : undefined, size);
  const headers: Record<string, string | number> = {
    'Content-Type': 'audio/wav',
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'private, no-store',
  };
  if (download) {
    const row = toRow(signed.viewer, recording);
    headers['Content-Disposition'] = `attachment; filename="${downloadName(recording, row.peer.number)}"`;
  }
  if (range.kind === 'unsatisfiable') {
    return sendError(res, 416, 'range', 'Requested range not satisfiable.', { 'Content-Range': `bytes */${size}` });
  }
  const start = range.kind === 'partial' ? range.start : 0;
  const end = range.kind === 'partial' ? range.end : size - 1;
  // Players fetch in pieces; one audit line per play (the request from byte 0), not per piece.
  if (start === 0 && req.method !== 'HEAD') {
    await ctx.audit.append({ user: signed.viewer.userId, action: download ? 'download' : 'play', recording: recording.id, ip, result: 'ok' });
  }
  if (range.kind === 'partial') {
    res.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': end - start + 1 });
  } else {
    res.writeHead(200, { ...headers, 'Content-Length': size });
  }
  if (req.method === 'HEAD' || size === 0) return void res.end();
  try {
    await pipeline(createReadStream('', { fd: file, start, end, autoClose: false }), res);
  } catch (err) {
    // The browser aborting a media request mid-stream is normal (seeking): not an error.
    if ((err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') throw err;
  }
}

export function recordingRoutes(ctx: WebContext): Route[] {
  return [
    { method: 'GET', path: '/api/recordings', handler: api((req, res) => list(ctx, req, res)) },
    {
      method: 'GET',
      path: /^\/api\/recordings\/([^/]+)\/(audio|download)$/,
      handler: api((req, res, [id, kind]) => audio(ctx, req, res, id, kind === 'download')),
    },
  ];
}
