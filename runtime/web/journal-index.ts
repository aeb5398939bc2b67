import { opendirSync, readFileSync, type Dir, type Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import type { Logger } from '../log.ts';
import { canView, isSelf, type Viewer } from './access.ts';
import { isCorruption, JournalStore, partyKeys, type PageFilter, type Position } from './journal-store.ts';
import { isRecordingId, StringPool, summarizeJournal, type PartySummary, type RecordingSummary } from './recording-summary.ts';

export interface JournalFilter {
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
  /** Part of a party's number (or name), compared case-insensitively. */
  number?: string;
  /** As the viewer saw the call. */
  direction?: 'inbound' | 'outbound';
  /** How the recording came about: the REC mark (auto, force) or manual. */
  decision?: 'auto' | 'force' | 'manual';
  /** Rule id. */
  rule?: string;
  /** Only recordings one of these users or numbers took part in (still only those the viewer may see). */
  participant?: { users: string[]; numbers: string[] };
}

/** One list row as the API sends it: relative to the viewer (their direction, the other party). */
export interface JournalRow {
  id: string;
  start: string;
  durationSeconds: number;
  direction: 'inbound' | 'outbound';
  origin: 'internal' | 'external';
  decision: 'auto' | 'force' | 'manual';
  rule: string | null;
  /** Whether the viewer took part; false for calls seen through view rights. */
  own: boolean;
  peer: PartySummary;
  caller: PartySummary;
  callee: PartySummary;
  sizeBytes: number;
  /** The caller objected (ISO time); with `audioDiscarded` the audio is gone. */
  objectedAt?: string;
  audioDiscarded?: true;
}

export interface JournalPage {
  rows: JournalRow[];
  /** The recordings the rows show, in the same order: what a row leaves out (parties, day folder) without a lookup. */
  summaries: RecordingSummary[];
  /** Pass as `cursor` to get the next page; absent on the last page. */
  next?: string;
}

const DAY_DIR = [/^\d{4}$/, /^\d{2}$/, /^\d{2}$/];
/** Journals read (synchronously) and inserted per step; the event loop gets a turn between steps. */
const READ_SLICE = 500;
/**
 * A day folder changed less than this before it was listed is listed again at the next scan: a file created in
 * the same timestamp tick as the listing would otherwise leave the folder's mtime as recorded, and be missed.
 */
const SETTLE_MS = 2_000;
const NEWEST = { start: Number.MAX_SAFE_INTEGER, id: '' };
/** Up to this many matches of a number part are fetched and filtered directly; more are found by walking the lists. */
const RARE_MATCHES = 2_000;
/**
 * A recording's day folder is named when the call is set up, its start is when MixMonitor began: a call set up just
 * before midnight starts in the next day but sits in the older folder. Also covers a daylight-saving hour.
 */
const FOLDER_MARGIN_MS = 2 * 3_600_000;

/** Newest first; equal start times ordered by id so paging is stable. */
function before(a: Position, b: Position): boolean {
  return a.start > b.start || (a.start === b.start && a.id > b.id);
}

function readSyncOrError(path: string): string | NodeJS.ErrnoException {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
}

export interface ScanResult {
  /** Journals new to the index. */
  added: number;
  /** Recordings dropped because their journal (or day folder) is gone. */
  removed: number;
  /** Day folders listed (unchanged ones are skipped by their mtime). */
  daysListed: number;
}

/**
 * The journal index the web client reads, kept in SQLite (`journal-store.ts`) next to the spool's other state.
 * A scan lists only the day folders `<spool>/YYYY/MM/DD` whose mtime changed since they were last listed (newest
 * first), reads the journals it does not know and drops those that are gone; the runtime's journal hook adds each
 * new journal at once (`add`). A page is a merge of the viewer's per-party lists (their own id and extension, and
 * whoever they may view), so it costs in proportion to the page, not to the spool; every entry still passes `canView`.
 */
export class JournalIndex {
  private store: JournalStore;
  /** Set when the file was found damaged in use and replaced: the running walk must start over. */
  private restart = false;
  private readonly pool = new StringPool();
  /** Journals found malformed: not re-read (and re-logged) on every scan while they stay. */
  private readonly unusable = new Set<string>();
  private scanning: Promise<ScanResult> | undefined;
  private closed = false;
  private lastProgressLog = 0;
  /** True until the first scan has finished: the index may lack journals of day folders not yet walked. */
  private building = true;
  /**
   * While building: every journal that starts at or after this time is in the index (the walk goes newest day
   * folder first). Lets the first pages be answered before a rebuild of a big spool is done.
   */
  private completeFrom = Number.POSITIVE_INFINITY;
  private advanced: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(
    readonly spool: string,
    private readonly log: Logger,
    options: { file?: string } = {},
  ) {
    this.store = new JournalStore(spool, log, options.file);
  }

  /**
   * Runs `f` on the store; when SQLite finds the file damaged, the file is set aside, a new one is started and
   * rebuilt from the journals (the request that hit it fails once, as any server error).
   */
  private guard<T>(f: () => T): T {
    try {
      return f();
    } catch (err) {
      if (isCorruption(err) && !this.closed) {
        const file = this.store.file;
        this.store.close();
        this.store = new JournalStore(this.spool, this.log, file, { damaged: (err as Error).message });
        this.building = true;
        this.completeFrom = Number.POSITIVE_INFINITY;
        this.restart = true;
        void this.scan().catch((e: unknown) => this.log.error('web journal index rebuild failed', { error: e }));
      }
      throw err;
    }
  }

  /** Where the index lives (`:memory:` when the state folder is not writable). */
  get file(): string {
    return this.store.file;
  }

  /** Whether this start found no usable index file and builds a new one. */
  get fresh(): boolean {
    return this.store.fresh;
  }

  get size(): number {
    return this.guard(() => this.store.size);
  }

  get(id: string): RecordingSummary | undefined {
    return isRecordingId(id) ? this.guard(() => this.store.get(id, this.spool)) : undefined;
  }

  /** Closes the database; a running scan stops at its next step and closes it then. */
  close(): void {
    this.closed = true;
    if (this.scanning) void this.scanning.catch(() => undefined).finally(() => this.store.close());
    else this.store.close();
  }

  /** Reads one journal file into the index; returns the summary when it is new. */
  async add(journalPath: string): Promise<RecordingSummary | undefined> {
    // Only journals in the spool's day folders: whatever sits next to an indexed journal can be downloaded.
    const day = relative(this.spool, dirname(journalPath));
    if (!/^\d{4}\/\d{2}\/\d{2}$/.test(day) || !journalPath.endsWith('.json')) {
      this.log.warn('journal outside the spool day folders ignored', { journal: journalPath });
      return undefined;
    }
    const summary = this.parse(journalPath, await readFile(journalPath, 'utf8').catch((err: NodeJS.ErrnoException) => err));
    if (!summary) return undefined;
    return this.guard(() => this.store.insert([{ day, summary }])[0]);
  }

  remove(id: string): void {
    this.guard(() => this.store.delete([id]));
  }

  /**
   * Brings the index up to date with the spool: new journals are added (and passed to `announce`), vanished ones
   * dropped. Concurrent calls share one walk.
   */
  scan(announce?: (added: RecordingSummary) => void): Promise<ScanResult> {
    if (this.closed) return Promise.resolve({ added: 0, removed: 0, daysListed: 0 });
    this.scanning ??= this.walkUntilDone(announce)
      .finally(() => {
        // Also after a failed or stopped first walk: waiting requests then get what the index holds.
        this.building = false;
        this.advance();
      })
      .finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  /** Walks again when the file was replaced during a walk (damage found in use). */
  private async walkUntilDone(announce?: (added: RecordingSummary) => void): Promise<ScanResult> {
    for (;;) {
      this.restart = false;
      try {
        const result = await this.walk(announce);
        if (!this.restart || this.closed) return result;
      } catch (err) {
        if (!this.restart || this.closed) throw err;
      }
    }
  }

  private async walk(announce?: (added: RecordingSummary) => void): Promise<ScanResult> {
    const result: ScanResult = { added: 0, removed: 0, daysListed: 0 };
    const vanished = new Set(this.guard(() => this.store.knownDays()));
    this.lastProgressLog = Date.now();
    // Newest first: on a first build the recent days, which people look at, are there first.
    for (const day of (await this.dayDirs()).sort().reverse()) {
      if (this.closed) return result;
      vanished.delete(day);
      if (!(await this.syncDay(day, result, announce))) return result;
      if (this.restart) return result; // the file was replaced meanwhile: walkUntilDone starts over
      const [y, m, d] = day.split('/').map(Number);
      if (this.building) {
        this.completeFrom = new Date(y, m - 1, d).getTime() + FOLDER_MARGIN_MS;
        this.advance();
      }
    }
    // Day folders retention removed as a whole.
    for (const day of vanished) result.removed += this.guard(() => this.store.dropDay(day));
    return result;
  }

  /** Brings one day folder up to date; false when the index was closed meanwhile. */
  private async syncDay(day: string, result: ScanResult, announce?: (added: RecordingSummary) => void): Promise<boolean> {
    const dir = join(this.spool, day);
    // The mtime is taken before the listing, so a change during the listing is seen next time.
    const info = await stat(dir, { bigint: true }).catch(() => undefined);
    if (!info) return true;
    const known = this.guard(() => this.store.dayState(day));
    if (known && known.mtimeNs === String(info.mtimeNs) && Number(info.mtimeMs) < known.listedAt - SETTLE_MS) return true;
    // What was indexed before the listing (only those can have vanished: a journal the hook adds meanwhile may
    // postdate the listing); each one listed is struck off, what is left is gone.
    const vanished = new Set(this.guard(() => this.store.dayIds(day)));
    const unusableBefore = new Set([...this.unusable].filter((path) => dirname(path) === dir));
    const listedAt = Date.now();
    let listing: Dir;
    try {
      listing = opendirSync(dir);
    } catch {
      return true; // retention may remove a day folder while we walk
    }
    result.daysListed++;
    try {
      // Read while listed, a slice at a time: a day folder of ten thousand journals is never held as a list of
      // names or paths, which would live long enough to reach V8's old generation and grow the heap on every day
      // folder of a rebuild. Small journals are read synchronously, yielding between slices: several times faster
      // than promise-based reads (one thread-pool round trip per open/stat/read/close), and the event loop never
      // stalls for more than one slice (a few ms).
      for (;;) {
        const slice = this.readSlice(listing, day, vanished, unusableBefore);
        if (!slice) return true; // the folder went away half-listed: what is gone is not known, the next scan lists it again
        const added = this.guard(() => this.store.insert(slice.items));
        result.added += added.length;
        if (announce) added.forEach(announce);
        await new Promise((resolve) => setImmediate(resolve));
        if (this.closed || this.restart) return false;
        if (Date.now() - this.lastProgressLog > 10_000) {
          this.lastProgressLog = Date.now();
          this.log.info('web journal index: reading journals', { added: result.added, day });
        }
        if (slice.listedToEnd) break;
      }
    } finally {
      listing.closeSync();
    }
    for (const path of unusableBefore) this.unusable.delete(path);
    this.guard(() => {
      result.removed += this.store.delete(vanished);
      this.store.setDayState(day, { mtimeNs: String(info.mtimeNs), listedAt });
    });
    return true;
  }

  /**
   * The next journals of a day folder's listing that are not indexed yet, up to READ_SLICE of them; undefined when
   * the folder went away half-listed. Each id listed is struck off `vanished`, each known-unusable path off
   * `unusableLeft`.
   */
  private readSlice(listing: Dir, day: string, vanished: Set<string>, unusableLeft: Set<string>): { items: { day: string; summary: RecordingSummary }[]; listedToEnd: boolean } | undefined {
    const dir = join(this.spool, day);
    const items: { day: string; summary: RecordingSummary }[] = [];
    while (items.length < READ_SLICE) {
      let entry: Dirent | null;
      try {
        entry = listing.readSync();
      } catch {
        return undefined;
      }
      if (!entry) return { items, listedToEnd: true };
      const name = entry.name;
      // Temp files and the runtime's `.pending.json` sidecars are not journals.
      if (!name.endsWith('.json') || name.endsWith('.pending.json') || name.startsWith('.')) continue;
      const id = name.slice(0, -'.json'.length);
      if (!isRecordingId(id) || vanished.delete(id)) continue;
      const path = join(dir, name);
      if (this.unusable.has(path)) {
        unusableLeft.delete(path);
        continue;
      }
      const summary = this.parse(path, readSyncOrError(path));
      if (summary) items.push({ day, summary });
    }
    return { items, listedToEnd: false };
  }

  /** The day folders, as paths relative to the spool (`YYYY/MM/DD`). */
  private async dayDirs(): Promise<string[]> {
    let level = [''];
    for (const pattern of DAY_DIR) {
      const next: string[] = [];
      for (const dir of level) {
        let entries;
        try {
          entries = await readdir(join(this.spool, dir), { withFileTypes: true });
        } catch {
          continue;
        }
        for (const e of entries) if (e.isDirectory() && pattern.test(e.name)) next.push(dir ? `${dir}/${e.name}` : e.name);
      }
      level = next;
    }
    return level;
  }

  /** A journal's text (or the error reading it) → its summary; problems are logged once and the file skipped. */
  private parse(journalPath: string, text: string | NodeJS.ErrnoException): RecordingSummary | undefined {
    let data: unknown;
    try {
      if (typeof text !== 'string') throw text;
      data = JSON.parse(text);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn('journal unreadable, not shown', { journal: journalPath, error: err });
      return undefined;
    }
    const summary = summarizeJournal(journalPath, data, this.pool);
    if (!summary) {
      this.unusable.add(journalPath);
      this.log.warn('journal malformed, not shown', { journal: journalPath });
    }
    return summary;
  }

  /**
   * One page of what `viewer` may see, newest first, after `cursor`: a merge of the viewer's lists (or, with a
   * participant filter, of that participant's lists), each entry still passed through `canView`.
   */
  query(viewer: Viewer, filter: JournalFilter, limit: number, cursor?: string): JournalPage {
    return this.guard(() => this.page(viewer, filter, limit, cursor));
  }

  /**
   * The page when it is certainly right already: always once the first scan is done; while the index is being
   * built, when every row of it (and the existence of a next page) lies in the day folders already walked.
   * Undefined otherwise: the caller waits for the scan and asks `query`.
   */
  queryIfComplete(viewer: Viewer, filter: JournalFilter, limit: number, cursor?: string): JournalPage | undefined {
    const page = this.query(viewer, filter, limit, cursor);
    if (!this.building) return page;
    const complete = page.next ? page.summaries.at(-1)!.start >= this.completeFrom : filter.from !== undefined && filter.from >= this.completeFrom;
    return complete ? page : undefined;
  }

  /** Resolves when the first scan has walked one more day folder (or ended): time to try `queryIfComplete` again. */
  whenAdvanced(): Promise<void> {
    if (!this.building) return Promise.resolve();
    if (!this.advanced) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.advanced = { promise, resolve };
    }
    return this.advanced.promise;
  }

  private advance(): void {
    this.advanced?.resolve();
    this.advanced = undefined;
  }

  private page(viewer: Viewer, filter: JournalFilter, limit: number, cursor?: string): JournalPage {
    const after = decodeCursor(cursor) ?? NEWEST;
    const parties = filter.participant ?? viewer;
    const keys = partyKeys(parties.users, parties.numbers);
    const needle = filter.number?.toLowerCase();
    const sqlFilter: PageFilter = {
      from: filter.from ?? -Number.MAX_SAFE_INTEGER,
      to: filter.to ?? Number.MAX_SAFE_INTEGER,
      decision: filter.decision ?? null,
      rule: filter.rule ?? null,
      needle: needle ?? null,
    };
    // A rare part of a number (one customer's calls): its few matches straight from the trigram index.
    const rare = needle && needle.length >= 3 ? this.store.rare(needle, RARE_MATCHES, after, sqlFilter, this.spool) : undefined;
    const lists = rare ? [rare.values()] : [...new Set(keys)].map((key, slot) => this.store.list(slot, key, after, sqlFilter, this.spool));
    try {
      const heads = lists.map((list) => list.next().value as RecordingSummary | undefined);
      const rows: JournalRow[] = [];
      const summaries: RecordingSummary[] = [];
      for (;;) {
        let pick: RecordingSummary | undefined;
        for (const head of heads) if (head && (!pick || before(head, pick))) pick = head;
        if (!pick) return { rows, summaries };
        // The same recording sits in several lists (caller and callee both viewable): advance all of them past it.
        for (let k = 0; k < lists.length; k++) if (heads[k]?.id === pick.id) heads[k] = lists[k].next().value as RecordingSummary | undefined;
        if (!canView(viewer, pick)) continue;
        if (rare && filter.participant && !takesPart(pick, filter.participant)) continue;
        const row = toRow(viewer, pick);
        if (filter.direction && row.direction !== filter.direction) continue;
        // SQLite matched the lower-cased text; this is the exact rule (the same as before the index moved to disk).
        if (needle && !matches(pick, needle)) continue;
        if (rows.length === limit) return { rows, summaries, next: encodeCursor(summaries.at(-1)!) };
        rows.push(row);
        summaries.push(pick);
      }
    } finally {
      for (const list of lists) list.return?.();
    }
  }
}

function takesPart(s: RecordingSummary, p: NonNullable<JournalFilter['participant']>): boolean {
  return s.partyUsers.some((u) => p.users.includes(u)) || s.partyNumbers.some((n) => p.numbers.includes(n));
}

function matches(s: RecordingSummary, needle: string): boolean {
  return [s.caller, s.callee].some((p) => p.number.toLowerCase().includes(needle) || (p.name?.toLowerCase().includes(needle) ?? false));
}

export function toRow(viewer: Viewer, s: RecordingSummary): JournalRow {
  const callerIsMe = isSelf(viewer, s.caller);
  const calleeIsMe = !callerIsMe && isSelf(viewer, s.callee);
  const own = callerIsMe || calleeIsMe || s.partyUsers.includes(viewer.userId);
  return {
    id: s.id,
    start: new Date(s.start).toISOString(),
    durationSeconds: s.durationSeconds,
    direction: callerIsMe ? 'outbound' : calleeIsMe ? 'inbound' : s.direction,
    origin: s.origin,
    decision: s.decision,
    rule: s.rule,
    own,
    peer: callerIsMe ? s.callee : s.caller,
    caller: s.caller,
    callee: s.callee,
    sizeBytes: s.sizeBytes,
    objectedAt: s.objectedAt,
    audioDiscarded: s.audioDiscarded,
  };
}

function encodeCursor(s: RecordingSummary): string {
  return Buffer.from(`${s.start}:${s.id}`).toString('base64url');
}

function decodeCursor(cursor: string | undefined): Position | undefined {
  if (!cursor) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const colon = text.indexOf(':');
  const start = Number(text.slice(0, colon));
  const id = text.slice(colon + 1);
  if (colon < 0 || !Number.isSafeInteger(start) || !isRecordingId(id)) throw new RangeError('invalid cursor');
  return { start, id };
}
