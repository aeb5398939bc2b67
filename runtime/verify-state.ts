import { readdir, readFile, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { atomicWrite, stateDir } from './journal.ts';
import type { VerifyReport } from './integrity-verify.ts';
import { giveToRuntime } from './state-owner.ts';

/**
 * What verifications saw, per recording: the SHA-256 its journal had when first seen (journals are never rewritten,
 * so a later difference is an edit), where it was, and when its audio was last verified and whether that passed.
 * Kept as one small file per day folder, `<spool>/.mitschnitt/verified/YYYY/MM/DD.json`, next to a summary of the
 * last run (`verified/last-run.json`): ten years of recordings make a big state, but the web client, which shows
 * the "verified" mark, only ever reads the days on the page it sends. `verify` reads and writes them all.
 */
export interface VerifiedRecording {
  journalSha256: string;
  /** Journal path relative to the spool (`YYYY/MM/DD/<id>.json`). */
  path: string;
  /** Time of the last check of this recording's audio, and its outcome. */
  verifiedAt?: string;
  ok?: boolean;
}

export interface VerifyState {
  version: 1;
  lastRun: { at: string; since: string | null; recordingsChecked: number; findings: number };
  recordings: Record<string, VerifiedRecording>;
}

/** One day file: id → [first journal SHA-256, verifiedAt or null, ok or null]. Compact: it is read per page view. */
type DayEntry = [string, string | null, boolean | null];
type DayFile = Record<string, DayEntry>;

export function verifiedDir(spool: string): string {
  return join(stateDir(spool), 'verified');
}

/** The day file of a day folder (`YYYY/MM/DD`). */
export function verifiedDayPath(spool: string, day: string): string {
  return join(verifiedDir(spool), `${day}.json`);
}

const DAY = /^[0-9]{4}\/[0-9]{2}\/[0-9]{2}$/;

export async function readVerifiedDay(spool: string, day: string): Promise<DayFile | null> {
  if (!DAY.test(day)) return null;
  try {
    const parsed = JSON.parse(await readFile(verifiedDayPath(spool, day), 'utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as DayFile) : null;
  } catch {
    return null;
  }
}

async function dayFiles(spool: string): Promise<string[]> {
  const out: string[] = [];
  const base = verifiedDir(spool);
  const ls = async (dir: string, pattern: RegExp) => (await readdir(dir).catch(() => [] as string[])).filter((n) => pattern.test(n)).sort();
  for (const y of await ls(base, /^[0-9]{4}$/)) {
    for (const m of await ls(join(base, y), /^[0-9]{2}$/)) {
      for (const d of await ls(join(base, y, m), /^[0-9]{2}\.json$/)) out.push(`${y}/${m}/${d.slice(0, 2)}`);
    }
  }
  return out;
}

/** The whole state, or null when no verification ran yet (or it is unreadable: then the chain alone has to speak). */
export async function readVerifyState(spool: string): Promise<VerifyState | null> {
  let lastRun: VerifyState['lastRun'];
  try {
    lastRun = JSON.parse(await readFile(join(verifiedDir(spool), 'last-run.json'), 'utf8')) as VerifyState['lastRun'];
  } catch {
    return null;
  }
  const recordings: Record<string, VerifiedRecording> = {};
  for (const day of await dayFiles(spool)) {
    const file = await readVerifiedDay(spool, day);
    for (const [id, e] of Object.entries(file ?? {})) {
      if (!Array.isArray(e) || typeof e[0] !== 'string') continue;
      const entry: VerifiedRecording = { journalSha256: e[0], path: `${day}/${id}.json` };
      if (typeof e[1] === 'string') Object.assign(entry, { verifiedAt: e[1], ok: e[2] === true });
      recordings[id] = entry;
    }
  }
  return { version: 1, lastRun, recordings };
}

/** Merges a run into the state: first-seen hashes are kept, outcomes updated, legitimately deleted recordings dropped. */
export function mergeVerifyState(previous: VerifyState | null, report: VerifyReport): VerifyState {
  const recordings: Record<string, VerifiedRecording> = {};
  const failed = new Set(report.findings.flatMap((f) => (f.id ? [f.id] : [])));
  const verified = new Set(report.verified);
  for (const [id, hash] of Object.entries(report.journalHashes)) {
    const before = previous?.recordings[id];
    const entry: VerifiedRecording = { journalSha256: before?.journalSha256 ?? hash, path: before?.path ?? report.journalPaths[id] ?? '' };
    if (verified.has(id)) Object.assign(entry, { verifiedAt: report.checkedAt, ok: true });
    else if (failed.has(id)) Object.assign(entry, { verifiedAt: report.checkedAt, ok: false });
    else if (before?.verifiedAt) Object.assign(entry, { verifiedAt: before.verifiedAt, ok: before.ok });
    recordings[id] = entry;
  }
  // Kept while reported missing (so the finding repeats until someone acts); dropped once the deletion is explained.
  for (const f of report.findings) {
    if (f.kind === 'missing-journal' && f.id && previous?.recordings[f.id]) recordings[f.id] = previous.recordings[f.id]!;
  }
  return {
    version: 1,
    lastRun: { at: report.checkedAt, since: report.since, recordingsChecked: report.recordingsChecked, findings: report.findings.length },
    recordings,
  };
}

/** Writes the day files that changed, removes those of days with no recording left, then the run summary. */
export async function writeVerifyState(spool: string, state: VerifyState): Promise<void> {
  const byDay = new Map<string, DayFile>();
  for (const [id, r] of Object.entries(state.recordings)) {
    const day = r.path.slice(0, 10);
    if (!DAY.test(day)) continue;
    if (!byDay.has(day)) byDay.set(day, {});
    byDay.get(day)![id] = [r.journalSha256, r.verifiedAt ?? null, r.verifiedAt ? r.ok === true : null];
  }
  const written: string[] = [];
  for (const [day, file] of byDay) {
    const text = `${JSON.stringify(file)}\n`;
    const path = verifiedDayPath(spool, day);
    if ((await readFile(path, 'utf8').catch(() => null)) === text) continue;
    await atomicWrite(path, text);
    written.push(dirname(dirname(path)), dirname(path), path);
  }
  for (const day of await dayFiles(spool)) {
    if (byDay.has(day)) continue;
    const path = verifiedDayPath(spool, day);
    await rm(path, { force: true });
    await rmdir(dirname(path)).catch(() => {});
    await rmdir(dirname(dirname(path))).catch(() => {});
  }
  const lastRun = join(verifiedDir(spool), 'last-run.json');
  await atomicWrite(lastRun, `${JSON.stringify(state.lastRun)}\n`);
  await giveToRuntime(spool, verifiedDir(spool), lastRun, ...new Set(written));
}
