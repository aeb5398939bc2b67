import Database from 'better-sqlite3';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.ts';
import type { PartySummary, RecordingSummary } from './recording-summary.ts';

/**
 * The web journal index on disk: an SQLite file derived from the JSON journals (which stay the source of truth).
 * It holds one row per recording and, per party (user id or number), a newest-first access list, plus what each
 * day folder looked like when it was last read, so a start or a rescan only reads the folders that changed.
 * Deleting the file is always safe: the next start builds it again from the journals.
 *
 * better-sqlite3, not `node:sqlite`: Node 20 (Debian 12's PBX) has no `node:sqlite`; better-sqlite3 must stay on
 * 12.x there (13 needs Node 22 and crashes on 20).
 */
export const SCHEMA_VERSION = 4;

export function indexPath(spool: string): string {
  return join(spool, '.mitschnitt', 'web-index.sqlite');
}

/** A stored row turned back into what the index hands out. */
interface Row {
  id: string;
  day: string;
  start: number;
  decision: RecordingSummary['decision'];
  rule: string | null;
  data: string;
}

/** What of a summary goes into the `data` JSON column (the rest are columns of their own). */
interface StoredData {
  audioExt: string;
  durationSeconds: number;
  caller: PartySummary;
  callee: PartySummary;
  partyUsers: string[];
  partyNumbers: string[];
  direction: RecordingSummary['direction'];
  origin: RecordingSummary['origin'];
  sizeBytes: number;
  objectedAt?: string;
  audioDiscarded?: true;
}

export interface PageFilter {
  from: number;
  to: number;
  decision: string | null;
  rule: string | null;
  /** Lower-cased part of a number or name. */
  needle: string | null;
}

/** A position in a list: newest first, equal start times ordered by id. */
export interface Position {
  start: number;
  id: string;
}

export interface DayState {
  mtimeNs: string;
  listedAt: number;
}

const SCHEMA = `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE recordings (
    rid INTEGER PRIMARY KEY,     -- the row of this recording in \`search\`
    id TEXT NOT NULL UNIQUE,
    day TEXT NOT NULL,           -- the day folder 'YYYY/MM/DD' relative to the spool
    start INTEGER NOT NULL,      -- epoch ms
    decision TEXT NOT NULL,
    rule TEXT,
    search TEXT NOT NULL,        -- lower-cased numbers and names of caller and callee, for the number filter
    data TEXT NOT NULL           -- the rest of the summary as JSON
  );
  CREATE INDEX recordings_day ON recordings (day);
  -- One entry per recording and party key ('u:<user id>', 'n:<number>'): a page is a merge of the viewer's keys.
  -- decision, rule and the number parts (see gramBits) are repeated here so those filters skip an entry before
  -- joining its recording; rid joins it with one lookup.
  CREATE TABLE access (
    key TEXT NOT NULL, start INTEGER NOT NULL, id TEXT NOT NULL, rid INTEGER NOT NULL, decision TEXT NOT NULL, rule TEXT,
    grams_lo INTEGER NOT NULL, grams_hi INTEGER NOT NULL,
    PRIMARY KEY (key, start, id)
  ) WITHOUT ROWID;
  -- Each party's manual recordings on their own: a few percent of the calls, which "REC/manual" would otherwise
  -- find by passing over all the others. Covering, so the walk reads nothing else until an entry matches.
  CREATE INDEX access_manual ON access (key, start, id, rid, rule, grams_lo, grams_hi) WHERE decision = 'manual';
  -- Trigrams of \`search\`: finds the few recordings with a rare part of a number or name without walking every list.
  CREATE VIRTUAL TABLE search USING fts5(text, content='', contentless_delete=1, tokenize='trigram');
  CREATE TABLE days (day TEXT PRIMARY KEY, mtime_ns TEXT NOT NULL, listed_at INTEGER NOT NULL) WITHOUT ROWID;
`;

const userKey = (id: string) => `u:${id}`;
const numberKey = (n: string) => `n:${n}`;

/** The keys of the lists these parties' recordings are in. */
export function partyKeys(users: Iterable<string>, numbers: Iterable<string>): string[] {
  return [...Array.from(users, userKey), ...Array.from(numbers, numberKey)];
}

type Statement = Database.Statement<unknown[], unknown>;

export class JournalStore {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly stmt: Record<
    'insert' | 'insertKey' | 'insertSearch' | 'get' | 'delete' | 'deleteKeys' | 'deleteSearch' | 'count' | 'dayIds' | 'dayState' | 'setDay' | 'allDays' | 'deleteDay' | 'match' | 'byRids',
    Statement
  >;
  /** One statement per merged list (a statement runs one iterator at a time), for all entries or the manual ones. */
  private readonly pageStatements: Record<'all' | 'manual', Statement[]> = { all: [], manual: [] };
  /** True when this start found no usable index and builds it from scratch. */
  readonly fresh: boolean;

  /**
   * Opens (or creates) the index. A file that is not an SQLite database (or, with `damaged`, one that SQLite
   * found damaged in use) is moved aside as `<file>.damaged` and a new one is started. One of another schema
   * version (from before an update that changed the index) is deleted and started anew: it is sound, only laid
   * out differently, and set aside it would hold nothing to look into but the disk space of a second index. If
   * the state folder is not writable the index lives in memory (rebuilt at every start) instead of failing the
   * web client.
   */
  constructor(spool: string, log: Logger, file = indexPath(spool), options: { damaged?: string } = {}) {
    let db: Database.Database | undefined;
    let fresh = false;
    try {
      mkdirSync(join(file, '..'), { recursive: true });
      const opened = options.damaged ? { problem: options.damaged } : openChecked(file);
      if (opened.version || opened.problem) {
        if (opened.version) log.info('web journal index is of another version; rebuilt from the journals', { file, version: opened.version, expected: String(SCHEMA_VERSION) });
        else log.warn('web journal index damaged; moved aside and rebuilt from the journals', { file, damaged: `${file}.damaged`, problem: opened.problem });
        opened.db?.close();
        for (const suffix of ['-wal', '-shm']) rmSync(file + suffix, { force: true });
        if (opened.version) rmSync(file, { force: true });
        else renameSync(file, `${file}.damaged`);
        db = openChecked(file).db;
      } else db = opened.db;
    } catch (err) {
      log.warn('web journal index cannot be kept on disk; it lives in memory and is rebuilt at every start', { file, error: err });
      db = new Database(':memory:');
      file = ':memory:';
    }
    this.db = db!;
    this.file = file;
    this.db.pragma('journal_mode = WAL');
    // The index is derived data: after a power cut a lost last transaction only means those journals are read again.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('temp_store = MEMORY');
    // A small page cache (4 MB) keeps the resident memory low; the OS page cache does the rest.
    this.db.pragma('cache_size = -4000');
    if (!this.db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'meta'`).get()) {
      this.db.exec(SCHEMA);
      this.db.prepare(`INSERT INTO meta VALUES ('schema', ?), ('spool', ?)`).run(String(SCHEMA_VERSION), spool);
      fresh = true;
    }
    this.fresh = fresh;
    this.stmt = {
      insert: this.db.prepare('INSERT OR IGNORE INTO recordings (id, day, start, decision, rule, search, data) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      insertKey: this.db.prepare('INSERT OR IGNORE INTO access (key, start, id, rid, decision, rule, grams_lo, grams_hi) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      insertSearch: this.db.prepare('INSERT INTO search (rowid, text) VALUES (?, ?)'),
      deleteSearch: this.db.prepare('DELETE FROM search WHERE rowid = ?'),
      match: this.db.prepare('SELECT rowid FROM search WHERE search MATCH ? LIMIT ?').pluck(),
      byRids: this.db.prepare(`
        SELECT id, day, start, decision, rule, data FROM recordings
        WHERE rid IN (SELECT value FROM json_each(@rids)) AND (start, id) < (@start, @id) AND start >= @from AND start < @to
          AND (@decision IS NULL OR decision = @decision) AND (@rule IS NULL OR rule = @rule)
        ORDER BY start DESC, id DESC`),
      get: this.db.prepare('SELECT id, day, start, decision, rule, data FROM recordings WHERE id = ?'),
      delete: this.db.prepare('DELETE FROM recordings WHERE id = ? RETURNING rid, start, data'),
      deleteKeys: this.db.prepare('DELETE FROM access WHERE key = ? AND start = ? AND id = ?'),
      count: this.db.prepare('SELECT count(*) AS n FROM recordings'),
      dayIds: this.db.prepare('SELECT id FROM recordings WHERE day = ?').pluck(),
      dayState: this.db.prepare('SELECT mtime_ns AS mtimeNs, listed_at AS listedAt FROM days WHERE day = ?'),
      setDay: this.db.prepare('INSERT OR REPLACE INTO days (day, mtime_ns, listed_at) VALUES (?, ?, ?)'),
      allDays: this.db.prepare('SELECT day FROM days').pluck(),
      deleteDay: this.db.prepare('DELETE FROM days WHERE day = ?'),
    };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  get size(): number {
    return (this.stmt.count.get() as { n: number }).n;
  }

  /** Adds summaries (ignoring ids already present) in one transaction; returns those that were new. */
  insert(items: { day: string; summary: RecordingSummary }[]): RecordingSummary[] {
    return this.db.transaction(() => {
      const added: RecordingSummary[] = [];
      for (const { day, summary: s } of items) {
        const data: StoredData = {
          audioExt: s.audioExt, durationSeconds: s.durationSeconds, caller: s.caller, callee: s.callee,
          partyUsers: s.partyUsers, partyNumbers: s.partyNumbers, direction: s.direction, origin: s.origin, sizeBytes: s.sizeBytes,
          // Left out by JSON.stringify when undefined: most recordings store no objection.
          objectedAt: s.objectedAt, audioDiscarded: s.audioDiscarded,
        };
        const search = searchText(s);
        const info = this.stmt.insert.run(s.id, day, s.start, s.decision, s.rule, search, JSON.stringify(data));
        if (info.changes === 0) continue;
        this.stmt.insertSearch.run(info.lastInsertRowid, search);
        const [lo, hi] = gramBits(searchedParts(s));
        for (const key of partyKeys(s.partyUsers, s.partyNumbers)) {
          this.stmt.insertKey.run(key, s.start, s.id, info.lastInsertRowid, s.decision, s.rule, lo, hi);
        }
        added.push(s);
      }
      return added;
    })();
  }

  /** Removes recordings by id; returns how many were there. */
  delete(ids: Iterable<string>): number {
    return this.db.transaction(() => {
      let removed = 0;
      for (const id of ids) {
        const row = this.stmt.delete.get(id) as { rid: number; start: number; data: string } | undefined;
        if (!row) continue;
        removed++;
        this.stmt.deleteSearch.run(row.rid);
        const d = JSON.parse(row.data) as StoredData;
        for (const key of [...d.partyUsers.map(userKey), ...d.partyNumbers.map(numberKey)]) this.stmt.deleteKeys.run(key, row.start, id);
      }
      return removed;
    })();
  }

  get(id: string, spool: string): RecordingSummary | undefined {
    const row = this.stmt.get.get(id) as Row | undefined;
    return row && toSummary(row, spool);
  }

  dayIds(day: string): string[] {
    return this.stmt.dayIds.all(day) as string[];
  }

  dayState(day: string): DayState | undefined {
    return this.stmt.dayState.get(day) as DayState | undefined;
  }

  setDayState(day: string, state: DayState): void {
    this.stmt.setDay.run(day, state.mtimeNs, state.listedAt);
  }

  knownDays(): string[] {
    return this.stmt.allDays.all() as string[];
  }

  /** Forgets a day folder that no longer exists, with every recording in it. */
  dropDay(day: string): number {
    const removed = this.delete(this.dayIds(day));
    this.stmt.deleteDay.run(day);
    return removed;
  }

  /**
   * The list of one party key, newest first, strictly after `after`, with the filters SQLite can apply itself
   * (time range, decision, rule, number/name part). Lazy: the merge pulls only as many rows as a page needs.
   * `slot` picks the statement (one per list merged at the same time); iterators must be closed by the caller.
   */
  list(slot: number, key: string, after: Position, f: PageFilter, spool: string): IterableIterator<RecordingSummary> {
    const manual = f.decision === 'manual';
    const statements = this.pageStatements[manual ? 'manual' : 'all'];
    while (statements.length <= slot) {
      // Both ends of the time range bound the seek: SQLite takes only one upper bound from a WHERE clause, so `to`
      // is folded into the cursor's position below rather than tested on every entry newer than it.
      statements.push(
        this.db.prepare(`
          SELECT r.id, r.day, r.start, r.decision, r.rule, r.data
          FROM access a ${manual ? 'INDEXED BY access_manual' : ''} JOIN recordings r ON r.rid = a.rid
          WHERE a.key = @key AND (a.start, a.id) < (@start, @id) AND a.start >= @from
            AND ${manual ? `a.decision = 'manual'` : '(@decision IS NULL OR a.decision = @decision)'}
            AND (@rule IS NULL OR a.rule = @rule)
            AND (a.grams_lo & @lo) = @lo AND (a.grams_hi & @hi) = @hi
            AND (@needle IS NULL OR instr(r.search, @needle) > 0)
          ORDER BY a.start DESC, a.id DESC`),
      );
    }
    // Ids are never empty: (to, '') comes before every entry that starts at `to`.
    const bound = f.to < after.start || (f.to === after.start && after.id !== '') ? { start: f.to, id: '' } : after;
    const [lo, hi] = f.needle === null ? [0n, 0n] : gramBits([f.needle]);
    const params = { key, start: bound.start, id: bound.id, from: f.from, rule: f.rule, needle: f.needle, lo, hi, ...(manual ? {} : { decision: f.decision }) };
    const rows = statements[slot].iterate(params) as IterableIterator<Row>;
    return mapIterator(rows, (row) => toSummary(row, spool));
  }

  /**
   * The recordings whose number/name text contains `needle` (at least 3 characters), newest first after `after`,
   * when there are at most `max` of them in the whole index; undefined when there are more (then walking the
   * viewer's lists finds matches sooner). The viewer's rights are checked by the caller.
   */
  rare(needle: string, max: number, after: Position, f: PageFilter, spool: string): RecordingSummary[] | undefined {
    const rids = this.stmt.match.all(`"${needle.replace(/"/g, '""')}"`, max + 1) as number[];
    if (rids.length > max) return undefined;
    const rows = this.stmt.byRids.all({ rids: JSON.stringify(rids), start: after.start, id: after.id, from: f.from, to: f.to, decision: f.decision, rule: f.rule }) as Row[];
    return rows.map((row) => toSummary(row, spool));
  }
}

/** Whether an error means the file is damaged (as opposed to busy, full, or a bug). */
export function isCorruption(err: unknown): boolean {
  return err instanceof Database.SqliteError && /^SQLITE_(CORRUPT|NOTADB)/.test(err.code);
}

/**
 * Opens the file and reads its header, schema and meta table: cheap, so a start stays fast at any size. A page
 * damaged further in shows up as SQLITE_CORRUPT when it is used (see JournalIndex), not here: SQLite's
 * quick_check reads the whole file (seconds at a million recordings).
 */
function openChecked(file: string): { db?: Database.Database; problem?: string; version?: string } {
  let db: Database.Database | undefined;
  try {
    db = new Database(file);
    const hasMeta = db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'meta'`).get();
    if (!hasMeta) {
      // An empty new file is fine; anything else without our meta table is not ours.
      const tables = db.prepare(`SELECT count(*) AS n FROM sqlite_master`).get() as { n: number };
      return tables.n === 0 ? { db } : { db, problem: 'not a mitschnitt index' };
    }
    const version = db.prepare(`SELECT value FROM meta WHERE key = 'schema'`).pluck().get();
    if (version === String(SCHEMA_VERSION)) return { db };
    // A number is an index another release built (sound, laid out differently); anything else we never wrote.
    return typeof version === 'string' && /^\d+$/.test(version) ? { db, version } : { db, problem: `schema version ${String(version)}, expected ${SCHEMA_VERSION}` };
  } catch (err) {
    // SQLITE_NOTADB, SQLITE_CORRUPT and friends: a file we cannot trust.
    if (err instanceof Database.SqliteError) return { db, problem: err.message };
    db?.close();
    throw err;
  }
}

function searchText(s: RecordingSummary): string {
  return [s.caller, s.callee].map((p) => `${p.number} ${p.name ?? ''}`).join('\n').toLowerCase();
}

/** The lower-cased texts the number filter looks into, each on its own (a part never spans two of them). */
function searchedParts(s: RecordingSummary): string[] {
  return [s.caller.number, s.caller.name ?? '', s.callee.number, s.callee.name ?? ''].map((t) => t.toLowerCase());
}

/** Bits 0–9: a digit; 10–109: a pair of digits; the other characters and pairs share the remaining bits. */
const DIGIT_PAIRS = 10;
const SHARED = 110;
const SHARED_BITS = 128 - SHARED;
const gramWords = new Uint32Array(4);

function setBit(bit: number): void {
  gramWords[bit >>> 5] |= 1 << (bit & 31);
}

/**
 * Which characters and pairs of adjacent characters `texts` contain, as 128 bits in two signed 64-bit integers.
 * Every character and pair of a part of a number is among those of the text it is part of, so an entry whose bits
 * lack one of the part's cannot match: a part of one or two characters, which the trigram index cannot serve, skips
 * those entries without reading their recording. Digits and digit pairs, which number parts are made of, have a
 * bit each; anything else shares one of 18 bits, and a false hit costs only the read that rejects it.
 */
function gramBits(texts: string[]): [bigint, bigint] {
  gramWords.fill(0);
  for (const t of texts) {
    for (let i = 0; i < t.length; i++) {
      const a = t.charCodeAt(i);
      const da = a - 48;
      const digitA = da >= 0 && da <= 9;
      setBit(digitA ? da : SHARED + (a % SHARED_BITS));
      if (i + 1 === t.length) continue;
      const b = t.charCodeAt(i + 1);
      const db = b - 48;
      setBit(digitA && db >= 0 && db <= 9 ? DIGIT_PAIRS + da * 10 + db : SHARED + ((a * 31 + b) % SHARED_BITS));
    }
  }
  const int64 = (high: number, low: number) => BigInt.asIntN(64, (BigInt(high) << 32n) | BigInt(low));
  return [int64(gramWords[1], gramWords[0]), int64(gramWords[3], gramWords[2])];
}

function toSummary(row: Row, spool: string): RecordingSummary {
  const d = JSON.parse(row.data) as StoredData;
  return { id: row.id, dir: join(spool, row.day), start: row.start, decision: row.decision, rule: row.rule, ...d };
}

function* mapIterator<T, U>(it: IterableIterator<T>, f: (t: T) => U): Generator<U, void, undefined> {
  try {
    for (const t of it) yield f(t);
  } finally {
    it.return?.();
  }
}
