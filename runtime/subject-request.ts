import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Policy } from '../generator/policy.ts';
import { queueDir, type QueueItem, type QueueState } from './delivery-queue.ts';
import { sha256, type Journal, type Party } from './journal.ts';
import type { HoldSet } from './legal-hold.ts';
import { AUDIO_NAME, dayFolders, JOURNAL_NAME, normalizeNumber, partiesOf, readJournal } from './spool-catalog.ts';

/**
 * Data-subject requests (GDPR Art. 15 access, Art. 17 erasure): every recording a person took part in, found by
 * any of their numbers or their user id, as caller, callee or any participant, in every part of a transferred call.
 * Read-only: exporting and erasing are separate steps (subject-export.ts, subject-erase.ts).
 */
export interface SubjectQuery {
  /** Numbers reduced as the dialplan reduces them. */
  numbers: string[];
  users: string[];
  from?: number;
  to?: number;
}

export interface SubjectMatch {
  id: string;
  journalPath: string;
  /** Path relative to the spool. */
  journalRel: string;
  audioPath: string | null;
  audioRel: string | null;
  journal: Journal;
  journalBytes: Buffer;
  journalSha256: string;
  /** How the person appears, e.g. `caller +4930123456`, `participant 202 (ben)`. */
  matchedAs: string[];
  /** Ids of the other parts of the same transferred call (previousPart links, both ways). */
  otherParts: string[];
  /** Active legal holds covering it. */
  holds: string[];
  /** Where deliveries copied it (e-mail recipients, scripts): copies this system cannot erase. */
  deliveredTo: string[];
}

export interface SubjectResult {
  query: SubjectQuery;
  matches: SubjectMatch[];
  /** Journals that could not be read: the answer may be incomplete there. */
  unreadable: { path: string; error: string }[];
  /** Audio files without a journal in the range: their parties are unknown. */
  unjournaled: string[];
}

function role(journal: Journal, p: Party): string {
  if (p === journal.caller) return 'caller';
  if (p === journal.callee) return 'callee';
  return 'participant';
}

export function describeQuery(q: SubjectQuery): string {
  return [...q.numbers.map((n) => `number=${n}`), ...q.users.map((u) => `user=${u}`)].join(' ');
}

export async function findSubjectRecordings(spool: string, policy: Policy, query: SubjectQuery, holds: HoldSet): Promise<SubjectResult> {
  const numbers = new Set(query.numbers);
  const users = new Set(query.users);
  const userExts = new Map(query.users.filter((u) => Object.hasOwn(policy.users, u)).map((u) => [policy.users[u]!.ext, u]));
  const result: SubjectResult = { query, matches: [], unreadable: [], unjournaled: [] };
  // Every journal in range is kept briefly by id, to link the parts of transferred calls.
  const parts = new Map<string, { previousPart?: string }>();
  for (const day of await dayFolders(spool, { from: query.from, to: query.to })) {
    const names = await readdir(day.path).catch(() => [] as string[]);
    const nameSet = new Set(names);
    for (const name of names) {
      const jm = JOURNAL_NAME.exec(name);
      if (!jm) {
        const am = AUDIO_NAME.exec(name);
        if (am && !nameSet.has(`${am[1]}.json`)) result.unjournaled.push(`${day.rel}/${name}`);
        continue;
      }
      const path = join(day.path, name);
      const read = await readJournal(path);
      if (!read.ok) {
        result.unreadable.push({ path: `${day.rel}/${name}`, error: read.error });
        continue;
      }
      const j = read.journal;
      if (j.id !== jm[1]) {
        result.unreadable.push({ path: `${day.rel}/${name}`, error: 'its id does not match its file name' });
        continue;
      }
      parts.set(j.id, { previousPart: typeof j.previousPart === 'string' ? j.previousPart : undefined });
      const start = Date.parse(j.start);
      if (query.from !== undefined && !(start >= query.from)) continue;
      if (query.to !== undefined && !(start < query.to)) continue;
      const matchedAs: string[] = [];
      for (const p of partiesOf(j)) {
        // Participants repeat caller and callee: name each party once, in its main role.
        if (role(j, p) === 'participant' && (p.number === j.caller?.number || p.number === j.callee?.number)) continue;
        const n = normalizeNumber(p.number);
        const asUser = p.userId && users.has(p.userId) ? p.userId : !p.userId ? userExts.get(p.number) : undefined;
        if (numbers.has(n) || asUser) {
          const label = `${role(j, p)} ${p.number}${asUser ? ` (${asUser})` : ''}`;
          if (!matchedAs.includes(label)) matchedAs.push(label);
        }
      }
      if (matchedAs.length === 0) continue;
      const audioName = typeof j.audio === 'string' && AUDIO_NAME.test(j.audio) && j.audio.startsWith(`${j.id}.`) && nameSet.has(j.audio) ? j.audio : null;
      result.matches.push({
        id: j.id,
        journalPath: path,
        journalRel: `${day.rel}/${name}`,
        audioPath: audioName ? join(day.path, audioName) : null,
        audioRel: audioName ? `${day.rel}/${audioName}` : null,
        journal: j,
        journalBytes: read.bytes,
        journalSha256: sha256(read.bytes),
        matchedAs,
        otherParts: [],
        holds: holds.covering(j),
        deliveredTo: await deliveredTo(spool, j.id),
      });
    }
  }
  // Parts of one transferred call: follow previousPart both ways.
  const next = new Map<string, string[]>();
  for (const [id, p] of parts) if (p.previousPart) next.set(p.previousPart, [...(next.get(p.previousPart) ?? []), id]);
  for (const m of result.matches) {
    const seen = new Set([m.id]);
    const walk = (id: string) => {
      for (const n of [parts.get(id)?.previousPart, ...(next.get(id) ?? [])]) {
        if (n && !seen.has(n)) {
          seen.add(n);
          walk(n);
        }
      }
    };
    walk(m.id);
    m.otherParts = [...seen].filter((id) => id !== m.id).sort();
  }
  return result;
}

/** Destinations a delivery already reached (delivered/ or the done ones of queue/ and dead/). */
async function deliveredTo(spool: string, id: string): Promise<string[]> {
  const out: string[] = [];
  for (const state of ['delivered', 'queue', 'dead'] as QueueState[]) {
    const text = await readFile(join(queueDir(spool, state), `${id}.json`), 'utf8').catch(() => null);
    if (!text) continue;
    try {
      const item = JSON.parse(text) as QueueItem;
      for (const d of item.destinations ?? []) {
        if (!d.done) continue;
        out.push(d.kind === 'email' ? `e-mail ${d.to.join(', ')}` : `script ${d.path.split('/').pop()}`);
      }
    } catch {
      out.push(`unknown (unreadable ${state} entry)`);
    }
  }
  return out;
}
