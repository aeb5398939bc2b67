import { createHash } from 'node:crypto';
import { retentionDayBounds } from '../generator/retention.ts';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, rmdir, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Policy } from '../generator/policy.ts';
import { acquireBatchLock } from './batch-lock.ts';
import { DeletionLog, type DeletionRecord } from './deletion-log.ts';
import { queueDir, queuedIds } from './delivery-queue.ts';
import { stateDir, type Journal } from './journal.ts';
import { HoldSet } from './legal-hold.ts';
import type { Logger } from './log.ts';

export interface ExpireOptions {
  policy: Policy;
  log: Logger;
  dryRun?: boolean;
  /** The moment retention is measured against (default: now). */
  now?: Date;
}

export interface ExpireSummary {
  ran: boolean;
  /** Date folders old enough to hold expired recordings, whose files were looked at. */
  foldersScanned: number;
  /** Date folders skipped from their date alone (everything in them is younger than the shortest retention). */
  foldersSkipped: number;
  journalsRead: number;
  /** Recordings deleted (or, with dry-run, that would be). */
  deleted: number;
  bytesFreed: number;
  /** Expired recordings kept because a delivery is still pending or dead-lettered. */
  keptPending: string[];
  /** Expired recordings kept because a legal hold covers them (`mitschnitt hold`), with the hold ids. */
  keptHeld: { id: string; holds: string[] }[];
  /** Files that could not be judged (unreadable journal) or deleted: an admin should look. */
  problems: { path: string; error: string }[];
}

const DAY_MS = 86_400_000;
const AUDIO = /^(.+)\.(wav|WAV)$/;
const JOURNAL = /^(.+)\.json$/;
/** How many recordings of a folder are read or deleted at once. */
const PARALLELISM = 64;

/**
 * Deletes recordings older than their retention. Walks the date folders (`YYYY/MM/DD`, the PBX's local date)
 * oldest first; a folder whose whole day is younger than the shortest retention of any rule or the settings is
 * skipped unread, and so is every later one. Journals are read only in older folders: a journal's own
 * `retentionDays` decides (rules may keep longer than the settings). Audio without a journal is kept until the
 * longest retention has passed since its mtime. Every deletion is written to the deletion log and fsynced
 * before any file goes; a recording with a pending or dead-lettered delivery, or under a legal hold, is never deleted.
 */
export async function runExpire(options: ExpireOptions): Promise<ExpireSummary> {
  const { policy, log } = options;
  const spool = policy.settings.spool;
  const now = options.now ?? new Date();
  const summary: ExpireSummary = {
    ran: true, foldersScanned: 0, foldersSkipped: 0, journalsRead: 0, deleted: 0, bytesFreed: 0, keptPending: [], keptHeld: [], problems: [],
  };
  const lock = options.dryRun ? null : await acquireBatchLock(join(stateDir(spool), 'expire.lock'));
  if (lock && !lock.acquired) {
    log.info('another expire run is in progress; this one does nothing', { holderPid: lock.holder });
    return { ...summary, ran: false };
  }
  try {
    // Rules kept in years have a range of day counts (the calendar year end decides): take its safe side each way.
    const ranges = [{ min: policy.settings.retentionDays, max: policy.settings.retentionDays }, ...Object.values(policy.rules).map(retentionDayBounds)];
    const bounds = { min: Math.min(...ranges.map((r) => r.min)), max: Math.max(...ranges.map((r) => r.max)) };
    // Legal holds are read once per run; a damaged holds file stops the run before anything is deleted.
    const holds = await HoldSet.load(spool, policy, now.getTime());
    const pending = new Set([...(await queuedIds(spool, 'queue')), ...(await queuedIds(spool, 'dead'))]);
    const deletionLog = options.dryRun ? null : await DeletionLog.open(spool);
    try {
      const delivered = await queuedIds(spool, 'delivered');
      const context: SweepContext = { options, spool, now, bounds, pending, delivered, holds, deletionLog, summary };
      for (const folder of await dayFolders(spool)) {
        if (folder.dayEnd + bounds.min * DAY_MS > now.getTime()) {
          summary.foldersSkipped++;
          continue;
        }
        summary.foldersScanned++;
        await sweepFolder(folder.path, context);
        if (!options.dryRun) {
          // Month and year folders go too once their last day is gone (rmdir keeps non-empty ones).
          await removeIfEmpty(dirname(folder.path));
          await removeIfEmpty(dirname(dirname(folder.path)));
        }
      }
    } finally {
      await deletionLog?.close();
    }
  } finally {
    if (lock?.acquired) await lock.release();
  }
  for (const k of summary.keptHeld) log.info('expired but kept: legal hold', { id: k.id, holds: k.holds });
  for (const id of summary.keptPending) log.warn('expired but kept: its delivery is still pending or dead-lettered', { id });
  for (const p of summary.problems) log.error('expire could not handle a file; look at it', p);
  const { ran: _ran, keptPending, keptHeld, problems, ...figures } = summary;
  log.info(options.dryRun ? 'expire dry run finished (nothing deleted)' : 'expire finished', {
    ...figures, keptPending: keptPending.length, keptHeld: keptHeld.length, problems: problems.length,
  });
  return summary;
}

interface SweepContext {
  options: ExpireOptions;
  spool: string;
  now: Date;
  bounds: { min: number; max: number };
  pending: Set<string>;
  /** Ids with a delivered marker (removed with the recording). */
  delivered: Set<string>;
  holds: HoldSet;
  deletionLog: DeletionLog | null;
  summary: ExpireSummary;
}

interface Doomed {
  record: DeletionRecord;
  files: string[];
  bytes: number;
}

async function sweepFolder(dir: string, ctx: SweepContext): Promise<void> {
  const { summary, options } = ctx;
  const names = await readdir(dir);
  const audioById = new Map<string, string>();
  const journalById = new Map<string, string>();
  for (const name of names) {
    const audio = AUDIO.exec(name);
    if (audio) audioById.set(audio[1]!, name);
    const journal = JOURNAL.exec(name);
    if (journal) journalById.set(journal[1]!, name);
  }

  const doomed: Doomed[] = [];
  const ids = [...journalById.keys()];
  for (let i = 0; i < ids.length; i += PARALLELISM) {
    const judged = await Promise.all(ids.slice(i, i + PARALLELISM).map((id) => judgeJournal(dir, id, journalById.get(id)!, audioById.get(id), ctx)));
    for (const d of judged) if (d) doomed.push(d);
  }
  for (const [id, name] of audioById) {
    if (journalById.has(id)) continue;
    const d = await judgeOrphanAudio(dir, id, name, ctx);
    if (d) doomed.push(d);
  }
  if (doomed.length === 0) return;

  summary.deleted += doomed.length;
  summary.bytesFreed += doomed.reduce((n, d) => n + d.bytes, 0);
  if (options.dryRun) {
    for (const d of doomed) options.log.info('would delete', { id: d.record.id, reason: d.record.reason, start: d.record.start });
    return;
  }
  // Evidence first: the records are on disk before the first file goes.
  await ctx.deletionLog!.append(doomed.map((d) => d.record));
  const unlinkAll = async (d: Doomed) => {
    // In order: audio first, so an interruption leaves a journal that the next run deletes (never lone audio).
    for (const file of d.files) {
      await unlink(file).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') summary.problems.push({ path: file, error: err.message });
      });
    }
  };
  for (let i = 0; i < doomed.length; i += PARALLELISM) await Promise.all(doomed.slice(i, i + PARALLELISM).map(unlinkAll));
  await removeIfEmpty(dir);
}

async function judgeJournal(dir: string, id: string, journalName: string, audioName: string | undefined, ctx: SweepContext): Promise<Doomed | null> {
  const path = join(dir, journalName);
  let bytes: Buffer;
  let journal: Partial<Journal>;
  try {
    bytes = await readFile(path);
    journal = JSON.parse(bytes.toString('utf8')) as Partial<Journal>;
  } catch (err) {
    ctx.summary.problems.push({ path, error: `unreadable journal, kept: ${(err as Error).message}` });
    return null;
  }
  ctx.summary.journalsRead++;
  const start = typeof journal.start === 'string' ? Date.parse(journal.start) : NaN;
  if (Number.isNaN(start)) {
    ctx.summary.problems.push({ path, error: 'journal has no valid start time, kept' });
    return null;
  }
  const retentionDays = validRetention(journal.retentionDays) ?? ctx.options.policy.settings.retentionDays;
  if (start + retentionDays * DAY_MS > ctx.now.getTime()) return null;
  if (keptAnyway(id, ctx.holds.covering({ ...journal, id }), ctx)) return null;
  const audioPath = audioName ? join(dir, audioName) : null;
  const audioSize = audioPath ? await lstat(audioPath).then((s) => s.size, () => 0) : 0;
  return {
    record: {
      id,
      sha256: typeof journal.sha256 === 'string' ? journal.sha256 : null,
      journalSha256: createHash('sha256').update(bytes).digest('hex'),
      deletedAt: new Date().toISOString(),
      reason: 'retention',
      audio: audioPath ? relativeTo(ctx.spool, audioPath) : null,
      start: new Date(start).toISOString(),
      retentionDays,
    },
    files: [...(audioPath ? [audioPath] : []), path, ...deliveredMarker(id, ctx)],
    bytes: audioSize + bytes.length,
  };
}

/** Past its retention but under a legal hold or still owed work (pending): kept, and the summary says why. */
function keptAnyway(id: string, holds: string[], ctx: SweepContext): boolean {
  if (holds.length > 0) ctx.summary.keptHeld.push({ id, holds });
  else if (ctx.pending.has(id)) ctx.summary.keptPending.push(id);
  else return false;
  return true;
}

/** Audio whose journal was never written (e.g. the runtime was down): kept for the longest retention any rule has. */
async function judgeOrphanAudio(dir: string, id: string, name: string, ctx: SweepContext): Promise<Doomed | null> {
  const path = join(dir, name);
  const info = await lstat(path).catch(() => null);
  if (!info?.isFile()) return null;
  if (info.mtimeMs + ctx.bounds.max * DAY_MS > ctx.now.getTime()) return null;
  if (keptAnyway(id, ctx.holds.coveringOrphan(id, info.mtimeMs), ctx)) return null;
  return {
    record: {
      id,
      sha256: ctx.options.dryRun ? null : await sha256File(path),
      journalSha256: null,
      deletedAt: new Date().toISOString(),
      reason: 'retention-no-journal',
      audio: relativeTo(ctx.spool, path),
      start: null,
      retentionDays: ctx.bounds.max,
    },
    files: [path, ...deliveredMarker(id, ctx)],
    bytes: info.size,
  };
}

function deliveredMarker(id: string, ctx: SweepContext): string[] {
  return ctx.delivered.has(id) ? [join(queueDir(ctx.spool, 'delivered'), `${id}.json`)] : [];
}

function validRetention(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value >= 1 ? value : null;
}

/** Sub-folders named by `digits` digits, oldest (smallest) first. */
async function numberedDirs(dir: string, digits: number): Promise<string[]> {
  const pattern = new RegExp(`^[0-9]{${digits}}$`);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && pattern.test(e.name)).map((e) => e.name).sort();
}

/** Every `YYYY/MM/DD` folder of the spool with the end of its (local) day, oldest first. */
async function dayFolders(spool: string): Promise<{ path: string; dayEnd: number }[]> {
  const folders: { path: string; dayEnd: number }[] = [];
  for (const year of await numberedDirs(spool, 4)) {
    for (const month of await numberedDirs(join(spool, year), 2)) {
      for (const day of await numberedDirs(join(spool, year, month), 2)) {
        const dayEnd = new Date(Number(year), Number(month) - 1, Number(day) + 1).getTime();
        folders.push({ path: join(spool, year, month, day), dayEnd });
      }
    }
  }
  return folders;
}

async function removeIfEmpty(dir: string): Promise<void> {
  // rmdir refuses a non-empty folder: no race with a recording being written into it.
  await rmdir(dir).catch(() => {});
}

function relativeTo(spool: string, path: string): string {
  return path.startsWith(`${spool}/`) ? path.slice(spool.length + 1) : path;
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}
