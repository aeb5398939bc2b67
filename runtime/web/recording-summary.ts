import { basename, dirname, join } from 'node:path';

/** Ids of recordings (the journal's base name): the only handle the API accepts — never a path. */
export const RECORDING_ID = /^[0-9A-Za-z_-][0-9A-Za-z._-]{0,127}$/;

export function isRecordingId(id: string): boolean {
  return RECORDING_ID.test(id) && !id.includes('..');
}

export interface PartySummary {
  number: string;
  name?: string;
  userId?: string;
}

/**
 * What the web index keeps of one journal (runtime/journal.ts `Journal`): only what the list, the filters and
 * the authorisation need, with every string length-capped so an entry's memory is bounded.
 */
export interface RecordingSummary {
  id: string;
  journalPath: string;
  audioPath: string;
  /** Epoch milliseconds of the start. */
  start: number;
  durationSeconds: number;
  caller: PartySummary;
  callee: PartySummary;
  /** User ids and numbers of every party (caller, callee, participants): what authorisation checks. */
  partyUsers: string[];
  partyNumbers: string[];
  direction: 'inbound' | 'outbound';
  origin: 'internal' | 'external';
  decision: 'auto' | 'force' | 'manual';
  rule: string | null;
  sizeBytes: number;
}

const MAX_PARTIES = 16;

function capped(value: unknown, max: number): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return undefined;
  return value.length > max ? value.slice(0, max) : value;
}

function party(value: unknown): PartySummary | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const number = typeof v.number === 'string' ? v.number.slice(0, 40) : undefined;
  if (number === undefined) return undefined;
  const out: PartySummary = { number };
  const name = capped(v.name, 80);
  const userId = capped(v.userId, 64);
  if (name) out.name = name;
  if (userId) out.userId = userId;
  return out;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[]): T | undefined {
  return allowed.includes(value as T) ? (value as T) : undefined;
}

/**
 * Reads a parsed journal file into a summary; undefined when it is not a usable journal (wrong id, an audio name
 * that points elsewhere, missing fields). Journals are files on disk: trusted no further than checked here.
 */
export function summarizeJournal(journalPath: string, data: unknown): RecordingSummary | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const j = data as Record<string, unknown>;
  const id = basename(journalPath, '.json');
  if (j.id !== id || !isRecordingId(id)) return undefined;
  // The audio must sit next to its journal and share its base name: never a path elsewhere.
  if (typeof j.audio !== 'string' || !isRecordingId(j.audio) || !j.audio.startsWith(`${id}.`)) return undefined;
  const start = typeof j.start === 'string' ? Date.parse(j.start) : NaN;
  const caller = party(j.caller);
  const callee = party(j.callee);
  const direction = oneOf(j.direction, ['inbound', 'outbound'] as const);
  const origin = oneOf(j.origin, ['internal', 'external'] as const);
  const decision = oneOf(j.decision, ['auto', 'force', 'manual'] as const);
  if (!Number.isFinite(start) || !caller || !callee || !direction || !origin || !decision) return undefined;
  const duration = typeof j.durationSeconds === 'number' && Number.isFinite(j.durationSeconds) && j.durationSeconds >= 0 ? j.durationSeconds : 0;
  const size = typeof j.sizeBytes === 'number' && Number.isFinite(j.sizeBytes) && j.sizeBytes >= 0 ? j.sizeBytes : 0;
  const participants = (Array.isArray(j.participants) ? j.participants : []).map(party).filter((p) => p !== undefined);
  const parties = [caller, callee, ...participants].slice(0, MAX_PARTIES);
  return {
    id,
    journalPath,
    audioPath: join(dirname(journalPath), j.audio),
    start,
    durationSeconds: duration,
    caller,
    callee,
    partyUsers: [...new Set(parties.flatMap((p) => (p.userId ? [p.userId] : [])))],
    partyNumbers: [...new Set(parties.map((p) => p.number).filter((n) => n !== ''))],
    direction,
    origin,
    decision,
    rule: capped(j.rule, 64) ?? null,
    sizeBytes: size,
  };
}
