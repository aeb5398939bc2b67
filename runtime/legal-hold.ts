import { readFile } from 'node:fs/promises';
import { giveToRuntime } from './state-owner.ts';
import { join } from 'node:path';
import { UserError } from '../bin/cli-support.ts';
import type { Policy } from '../generator/policy.ts';
import { acquireBatchLock } from './batch-lock.ts';
import { atomicWrite, stateDir, type Journal } from './journal.ts';
import { normalizeNumber, partiesOf } from './spool-catalog.ts';

/**
 * Legal holds: recordings a dispute or an authority asked to keep beyond their retention. They live in
 * `<spool>/.mitschnitt/holds.json`, next to the journals on the PBX, so they survive restarts and redeploys
 * (the deployed build folder is replaced on every deploy; the spool is not). Released holds stay in the file
 * with who released them and why: the file is the current state, the audit log the history.
 */
export interface HoldScope {
  /** One recording id. */
  recording?: string;
  /** The other parts of the same transferred call, found when the hold was added: held with it. */
  parts?: string[];
  /** Any party (caller, callee, participant) with this number, as the dialplan reduces numbers. */
  number?: string;
  /** Any party that is this user (user id or the user's extension). */
  user?: string;
  /** Recordings started in [from, to), ISO times. */
  from?: string;
  to?: string;
}

export interface Hold {
  id: string;
  created: string;
  createdBy: string;
  reason: string;
  /** The hold ends at this moment (ISO); absent: until released. */
  until?: string;
  scope: HoldScope;
  released?: { at: string; by: string; reason: string };
}

interface HoldFile {
  version: 1;
  holds: Hold[];
}

export const HOLD_ID = /^h[0-9]{1,9}$/;

export function holdsPath(spool: string): string {
  return join(stateDir(spool), 'holds.json');
}

/**
 * Reads every hold. A missing file means no holds; a damaged one is an error, never "no holds": expire must not
 * delete anything it cannot prove unheld.
 */
export async function readHolds(spool: string): Promise<Hold[]> {
  const path = holdsPath(spool);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new UserError(`cannot read the legal holds ${path}: ${(err as Error).message}`);
  }
  let file: Partial<HoldFile>;
  try {
    file = JSON.parse(text) as Partial<HoldFile>;
  } catch (err) {
    throw new UserError(`the legal holds file ${path} is damaged (${(err as Error).message}); restore it from a backup`);
  }
  if (file?.version !== 1 || !Array.isArray(file.holds) || !file.holds.every(isHold)) {
    throw new UserError(`the legal holds file ${path} is damaged (unexpected content); restore it from a backup`);
  }
  return file.holds;
}

function isHold(h: unknown): h is Hold {
  const v = h as Partial<Hold> | null;
  return typeof v === 'object' && v !== null && typeof v.id === 'string' && HOLD_ID.test(v.id) && typeof v.reason === 'string' &&
    typeof v.created === 'string' && typeof v.scope === 'object' && v.scope !== null;
}

/** Read, change and write the holds under a lock, so two admins at the same time lose no hold. */
export async function changeHolds<T>(spool: string, change: (holds: Hold[]) => T): Promise<T> {
  const lock = await acquireBatchLock(join(stateDir(spool), 'holds.lock'));
  if (!lock.acquired) throw new UserError(`another hold change is in progress (pid ${lock.holder ?? '?'}); try again`);
  try {
    const holds = await readHolds(spool);
    const result = change(holds);
    const file: HoldFile = { version: 1, holds };
    await atomicWrite(holdsPath(spool), `${JSON.stringify(file, null, 2)}\n`);
    await giveToRuntime(spool, holdsPath(spool));
    return result;
  } finally {
    await lock.release();
  }
}

export function nextHoldId(holds: Hold[]): string {
  const max = holds.reduce((n, h) => Math.max(n, Number(h.id.slice(1))), 0);
  return `h${max + 1}`;
}

/** Whether a hold applies at `now` (not released, not past its end). */
export function isActive(hold: Hold, now: number): boolean {
  return !hold.released && (hold.until === undefined || Date.parse(hold.until) > now);
}

/** The numbers that stand for a user: their id's extension in the policy (a journal party may carry only the number). */
function userNumber(policy: Policy | undefined, user: string): string | undefined {
  return policy && Object.hasOwn(policy.users, user) ? policy.users[user]!.ext : undefined;
}

/**
 * What a hold is matched against: the same for a journal (expire, subject) and for the web index's summary of
 * it (the hold mark), so the page never shows a mark that expire does not honour, or the other way round.
 */
export interface HoldSubject {
  id: string;
  /** Epoch ms; NaN when unknown. */
  start: number;
  /** Numbers of every party (caller, callee, participants), as written. */
  numbers: string[];
  /** User ids of the parties that have one. */
  users: string[];
}

export function subjectOfJournal(journal: Partial<Journal> & { id: string }): HoldSubject {
  const parties = partiesOf(journal);
  return {
    id: journal.id,
    start: typeof journal.start === 'string' ? Date.parse(journal.start) : NaN,
    numbers: parties.map((p) => p.number),
    users: parties.flatMap((p) => (typeof p.userId === 'string' ? [p.userId] : [])),
  };
}

/** Whether a hold covers a recording. A user hold matches their user id or their extension (keeping more is the safe side). */
export function holdCovers(hold: Hold, subject: HoldSubject, policy?: Policy): boolean {
  const s = hold.scope;
  if (s.recording !== undefined && s.recording !== subject.id && !(s.parts ?? []).includes(subject.id)) return false;
  if (s.from !== undefined && !(subject.start >= Date.parse(s.from))) return false;
  if (s.to !== undefined && !(subject.start < Date.parse(s.to))) return false;
  if (s.number !== undefined && !subject.numbers.some((n) => normalizeNumber(n) === s.number)) return false;
  if (s.user !== undefined) {
    const ext = userNumber(policy, s.user);
    if (!subject.users.includes(s.user) && !(ext !== undefined && subject.numbers.includes(ext))) return false;
  }
  return true;
}

/**
 * Whether a hold may cover audio without a journal (the runtime never finished it): its parties are unknown, so
 * a hold on a number or user keeps it whenever the file's time lies in the hold's range. Keeping is the safe side.
 */
export function holdMayCoverOrphan(hold: Hold, id: string, fileTime: number): boolean {
  const s = hold.scope;
  if (s.recording !== undefined) return s.recording === id || (s.parts ?? []).includes(id);
  if (s.from !== undefined && !(fileTime >= Date.parse(s.from))) return false;
  if (s.to !== undefined && !(fileTime < Date.parse(s.to))) return false;
  return true;
}

/** Active holds only, ready to test many recordings against. */
export class HoldSet {
  constructor(readonly holds: Hold[], private readonly policy?: Policy) {}

  static async load(spool: string, policy?: Policy, now = Date.now()): Promise<HoldSet> {
    return new HoldSet((await readHolds(spool)).filter((h) => isActive(h, now)), policy);
  }

  /** Ids of the active holds covering this recording (empty: not held). */
  covering(journal: Partial<Journal> & { id: string }): string[] {
    return this.coveringSubject(subjectOfJournal(journal));
  }

  coveringSubject(subject: HoldSubject): string[] {
    return this.holds.filter((h) => holdCovers(h, subject, this.policy)).map((h) => h.id);
  }

  coveringOrphan(id: string, fileTime: number): string[] {
    return this.holds.filter((h) => holdMayCoverOrphan(h, id, fileTime)).map((h) => h.id);
  }
}
