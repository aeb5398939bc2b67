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
  /** The day folder (one shared string per folder). */
  dir: string;
  /** Extension of the audio file `<id><ext>` inside `dir` (`.wav`, `.WAV`). */
  audioExt: string;
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
  /** The caller objected while it was recorded (journal `objection.at`). */
  objectedAt?: string;
  /** The objected audio was discarded: nothing to play. */
  audioDiscarded?: true;
}

const MAX_PARTIES = 16;
const AUDIO_EXTENSIONS = ['.wav', '.WAV'] as const;

export function audioPathOf(s: RecordingSummary): string {
  return join(s.dir, s.id + s.audioExt);
}

/**
 * Shares equal strings between summaries (user ids, internal names and numbers, rule ids, folders repeat across
 * thousands of journals). Bounded: when full, strings are simply not shared any more.
 */
export class StringPool {
  private readonly pool = new Map<string, string>();
  constructor(private readonly max = 50_000) {}
  get(s: string): string {
    const known = this.pool.get(s);
    if (known !== undefined) return known;
    if (this.pool.size < this.max) this.pool.set(s, s);
    return s;
  }
}

/** The first `max` characters as a string of their own: a plain slice could keep a huge original alive in V8. */
function prefix(value: string, max: number): string {
  return value.length > max ? Buffer.from(value.slice(0, max), 'utf8').toString('utf8') : value;
}

function capped(value: unknown, max: number): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return undefined;
  return prefix(value, max);
}

function party(value: unknown, pool: StringPool): PartySummary | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const number = typeof v.number === 'string' ? prefix(v.number, 40) : undefined;
  if (number === undefined) return undefined;
  const userId = capped(v.userId, 64);
  const name = capped(v.name, 80);
  // Internal parties (with a user id) repeat across many journals: share their strings; external ones rarely do.
  const out: PartySummary = { number: userId ? pool.get(number) : number };
  if (name) out.name = userId ? pool.get(name) : name;
  if (userId) out.userId = pool.get(userId);
  return out;
}

/** The matching constant from `allowed` (shared), not the parsed copy. */
function oneOf<T extends string>(value: unknown, allowed: readonly T[]): T | undefined {
  return allowed.find((a) => a === value);
}

function objectionOf(j: Record<string, unknown>): Pick<RecordingSummary, 'objectedAt' | 'audioDiscarded'> {
  const at = (j.objection as { at?: unknown } | undefined)?.at;
  if (typeof at !== 'string' || !Number.isFinite(Date.parse(at))) return {};
  return { objectedAt: new Date(Date.parse(at)).toISOString(), ...(j.audioDiscarded === true ? { audioDiscarded: true as const } : {}) };
}

/**
 * Reads a parsed journal file into a summary; undefined when it is not a usable journal (wrong id, an audio name
 * that points elsewhere, missing fields). Journals are files on disk: trusted no further than checked here.
 */
export function summarizeJournal(journalPath: string, data: unknown, pool = new StringPool(), dir = dirname(journalPath)): RecordingSummary | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const j = data as Record<string, unknown>;
  const id = basename(journalPath, '.json');
  if (j.id !== id || !isRecordingId(id)) return undefined;
  // The audio must sit next to its journal and share its base name: never a path elsewhere.
  if (typeof j.audio !== 'string' || !isRecordingId(j.audio) || !j.audio.startsWith(`${id}.`)) return undefined;
  const start = typeof j.start === 'string' ? Date.parse(j.start) : NaN;
  const caller = party(j.caller, pool);
  const callee = party(j.callee, pool);
  const direction = oneOf(j.direction, ['inbound', 'outbound'] as const);
  const origin = oneOf(j.origin, ['internal', 'external'] as const);
  const decision = oneOf(j.decision, ['auto', 'force', 'manual'] as const);
  if (!Number.isFinite(start) || !caller || !callee || !direction || !origin || !decision) return undefined;
  const duration = typeof j.durationSeconds === 'number' && Number.isFinite(j.durationSeconds) && j.durationSeconds >= 0 ? j.durationSeconds : 0;
  const size = typeof j.sizeBytes === 'number' && Number.isFinite(j.sizeBytes) && j.sizeBytes >= 0 ? j.sizeBytes : 0;
  const participants = (Array.isArray(j.participants) ? j.participants : []).map((p) => party(p, pool)).filter((p) => p !== undefined);
  const parties = [caller, callee, ...participants].slice(0, MAX_PARTIES);
  return {
    id,
    dir: pool.get(dir),
    audioExt: oneOf(j.audio.slice(id.length), AUDIO_EXTENSIONS) ?? j.audio.slice(id.length),
    start,
    durationSeconds: duration,
    caller,
    callee,
    partyUsers: [...new Set(parties.flatMap((p) => (p.userId ? [p.userId] : [])))],
    partyNumbers: [...new Set(parties.map((p) => p.number).filter((n) => n !== ''))],
    direction,
    origin,
    decision,
    rule: typeof j.rule === 'string' && j.rule !== '' ? pool.get(prefix(j.rule, 64)) : null,
    sizeBytes: size,
    ...objectionOf(j),
  };
}
