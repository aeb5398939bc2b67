import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../bin/cli-support.ts';
import type { Journal, Party } from './journal.ts';

/**
 * Read-only walks over the spool for the compliance commands (hold, subject, verify): the day folders
 * `YYYY/MM/DD` that exist, oldest first, optionally only those that can hold recordings started in a range.
 */

/** Our recording ids: `<UNIQUEID>-<EPOCH>`. Anything else given as an id (a path, `..`) is refused. */
export const RECORDING_ID = /^[0-9]{1,20}\.[0-9]{1,20}-[0-9]{1,20}$/;
export const JOURNAL_NAME = /^([0-9]{1,20}\.[0-9]{1,20}-[0-9]{1,20})\.json$/;
export const AUDIO_NAME = /^([0-9]{1,20}\.[0-9]{1,20}-[0-9]{1,20})\.(wav|WAV)$/;

/**
 * A spool that is missing or unreadable must never look like an empty one: "no recordings of this person" or "all
 * verified" would be a false answer. The compliance commands call this first.
 */
export async function requireSpool(spool: string): Promise<void> {
  const info = await stat(spool).catch((err: NodeJS.ErrnoException) => err);
  if (info instanceof Error) throw new UserError(`the spool ${spool} (settings.spool) cannot be read: ${info.message}`);
  if (!info.isDirectory()) throw new UserError(`the spool ${spool} (settings.spool) is not a folder`);
  await readdir(spool).catch((err: Error) => {
    throw new UserError(`the spool ${spool} (settings.spool) cannot be read: ${err.message}`);
  });
}

export interface DayFolder {
  /** Absolute path. */
  path: string;
  /** `YYYY/MM/DD`, relative to the spool. */
  rel: string;
  /** Local start and end of the day, epoch ms. */
  dayStart: number;
  dayEnd: number;
}

async function numbered(dir: string, digits: number): Promise<string[]> {
  const pattern = new RegExp(`^[0-9]{${digits}}$`);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && pattern.test(e.name)).map((e) => e.name).sort();
}

/** Day folders oldest first; with a range, only days that overlap [from, to). */
export async function dayFolders(spool: string, range: { from?: number; to?: number } = {}): Promise<DayFolder[]> {
  const out: DayFolder[] = [];
  for (const y of await numbered(spool, 4)) {
    for (const m of await numbered(join(spool, y), 2)) {
      for (const d of await numbered(join(spool, y, m), 2)) {
        const dayStart = new Date(Number(y), Number(m) - 1, Number(d)).getTime();
        const dayEnd = new Date(Number(y), Number(m) - 1, Number(d) + 1).getTime();
        if (range.from !== undefined && dayEnd <= range.from) continue;
        if (range.to !== undefined && dayStart >= range.to) continue;
        out.push({ path: join(spool, y, m, d), rel: `${y}/${m}/${d}`, dayStart, dayEnd });
      }
    }
  }
  return out;
}

export type JournalRead = { ok: true; bytes: Buffer; journal: Journal } | { ok: false; error: string };

/** Reads and parses one journal; a journal is a file on disk and trusted only as far as checked here. */
export async function readJournal(path: string): Promise<JournalRead> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
  try {
    const journal = JSON.parse(bytes.toString('utf8')) as Journal;
    if (typeof journal !== 'object' || journal === null || typeof journal.id !== 'string' || typeof journal.start !== 'string') {
      return { ok: false, error: 'not a journal (no id or start)' };
    }
    return { ok: true, bytes, journal };
  } catch (err) {
    return { ok: false, error: `not valid JSON: ${(err as Error).message}` };
  }
}

/** Caller, callee and every participant of a journal (whatever is well-formed). */
export function partiesOf(journal: Partial<Journal>): Party[] {
  const list = [journal.caller, journal.callee, ...(Array.isArray(journal.participants) ? journal.participants : [])];
  return list.filter((p): p is Party => typeof p === 'object' && p !== null && typeof p.number === 'string');
}

/** A phone number reduced as the dialplan reduces it (`FILTER(0-9*#+)`), so `+49 30 123-456` finds `+4930123456`. */
export function normalizeNumber(n: string): string {
  return n.replace(/[^0-9*#+]/g, '');
}
