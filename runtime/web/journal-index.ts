import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import type { Logger } from '../log.ts';
import { canView, isSelf, type Viewer } from './access.ts';
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
}

export interface JournalPage {
  rows: JournalRow[];
  /** Pass as `cursor` to get the next page; absent on the last page. */
  next?: string;
}

type Position = { start: number; id: string };

const DAY_DIR = [/^\d{4}$/, /^\d{2}$/, /^\d{2}$/];
const READ_SLICE = 200;

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

function newestFirst(a: RecordingSummary, b: RecordingSummary): number {
  return before(a, b) ? -1 : before(b, a) ? 1 : 0;
}

/** Index of the first entry of `list` that comes after `p` (or is `p` itself when `inclusive`). */
function seek(list: readonly RecordingSummary[], p: Position, inclusive: boolean): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const e = list[mid];
    if (before(e, p) || (!inclusive && e.start === p.start && e.id === p.id)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const userKey = (id: string) => `u:${id}`;
const numberKey = (n: string) => `n:${n}`;

/**
 * The in-memory index of journals that the web client reads. Built by scanning `<spool>/YYYY/MM/DD/*.json` at
 * start, kept current by `add` (the runtime's journal hook) and periodic `scan`s (which also drop journals that
 * retention deleted). Besides the id map it keeps, per user id and per viewable number, the newest-first list of
 * that party's recordings, so a page costs in proportion to what the viewer may see, not to the whole spool.
 */
export class JournalIndex {
  private readonly byId = new Map<string, RecordingSummary>();
  private readonly postings = new Map<string, RecordingSummary[]>();
  private readonly pool = new StringPool();
  /** Journals found malformed: not re-read (and re-logged) on every scan while they stay. */
  private readonly unusable = new Set<string>();
  private scanning: Promise<{ added: RecordingSummary[]; removed: number }> | undefined;

  /**
   * @param viewableNumbers every number any viewer can be given (users' extensions, canViewNumbers): only these
   *   get a posting list; external numbers are reached through the internal party of the same call.
   */
  constructor(
    readonly spool: string,
    private readonly viewableNumbers: ReadonlySet<string>,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  get(id: string): RecordingSummary | undefined {
    return isRecordingId(id) ? this.byId.get(id) : undefined;
  }

  private keysOf(s: RecordingSummary): string[] {
    return [...s.partyUsers.map(userKey), ...s.partyNumbers.filter((n) => this.viewableNumbers.has(n)).map(numberKey)];
  }

  /** Reads one journal file into the index; returns the summary when it is new. */
  async add(journalPath: string): Promise<RecordingSummary | undefined> {
    // Only journals in the spool's day folders: whatever sits next to an indexed journal can be downloaded.
    if (!/^\d{4}\/\d{2}\/\d{2}$/.test(relative(this.spool, dirname(journalPath))) || !journalPath.endsWith('.json')) {
      this.log.warn('journal outside the spool day folders ignored', { journal: journalPath });
      return undefined;
    }
    const summary = await this.read(journalPath);
    if (!summary || this.byId.has(summary.id)) return undefined;
    this.byId.set(summary.id, summary);
    for (const key of this.keysOf(summary)) {
      const list = this.postings.get(key);
      if (list) list.splice(seek(list, summary, true), 0, summary);
      else this.postings.set(key, [summary]);
    }
    return summary;
  }

  remove(id: string): void {
    const summary = this.byId.get(id);
    if (!summary) return;
    this.byId.delete(id);
    for (const key of this.keysOf(summary)) {
      const list = this.postings.get(key)!;
      list.splice(seek(list, summary, true), 1);
      if (list.length === 0) this.postings.delete(key);
    }
  }

  /** Walks the whole spool: new journals are added, vanished ones dropped. Concurrent calls share one walk. */
  scan(): Promise<{ added: RecordingSummary[]; removed: number }> {
    this.scanning ??= this.walk().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  private async walk(): Promise<{ added: RecordingSummary[]; removed: number }> {
    // Only what was indexed before the walk can have vanished: a journal added meanwhile may postdate the listing.
    const indexedBefore = [...this.byId.keys()];
    const seen = new Set<string>();
    const fresh: string[] = [];
    for (const dir of await this.dayDirs()) {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue; // retention may remove a day folder while we walk
      }
      for (const name of names) {
        // Temp files and the runtime's `.pending.json` sidecars are not journals.
        if (!name.endsWith('.json') || name.endsWith('.pending.json') || name.startsWith('.')) continue;
        const id = name.slice(0, -'.json'.length);
        if (!isRecordingId(id)) continue;
        seen.add(id);
        if (!this.byId.has(id) && !this.unusable.has(join(dir, name))) fresh.push(join(dir, name));
      }
    }
    // Small journals read synchronously in slices, yielding between slices: several times faster than
    // promise-based reads (one thread-pool round trip per open/stat/read/close), and the event loop never
    // stalls for more than one slice (a few ms).
    const summaries: RecordingSummary[] = [];
    for (let i = 0; i < fresh.length; i += READ_SLICE) {
      for (const path of fresh.slice(i, i + READ_SLICE)) {
        const s = this.parse(path, readSyncOrError(path));
        if (s && !this.byId.has(s.id)) summaries.push(s);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (const path of this.unusable) if (!seen.has(basename(path, '.json'))) this.unusable.delete(path);
    let removed = 0;
    for (const id of indexedBefore) {
      if (!seen.has(id) && this.byId.delete(id)) removed++;
    }
    for (const s of summaries) this.byId.set(s.id, s);
    // Rebuilding the lists in one sorted pass is cheaper than many single inserts.
    if (summaries.length > 0 || removed > 0) {
      this.postings.clear();
      const all = [...this.byId.values()].sort(newestFirst);
      for (const s of all) {
        for (const key of this.keysOf(s)) {
          const list = this.postings.get(key);
          if (list) list.push(s);
          else this.postings.set(key, [s]);
        }
      }
    }
    return { added: summaries, removed };
  }

  private async dayDirs(): Promise<string[]> {
    let level = [this.spool];
    for (const pattern of DAY_DIR) {
      const next: string[] = [];
      for (const dir of level) {
        let entries;
        try {
          entries = await readdir(dir, { withFileTypes: true });
        } catch {
          continue;
        }
        for (const e of entries) if (e.isDirectory() && pattern.test(e.name)) next.push(join(dir, e.name));
      }
      level = next;
    }
    return level;
  }

  private async read(journalPath: string): Promise<RecordingSummary | undefined> {
    return this.parse(journalPath, await readFile(journalPath, 'utf8').catch((err: NodeJS.ErrnoException) => err));
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
   * One page of what `viewer` may see, newest first, after `cursor`: a merge of the viewer's posting lists
   * (their own id and extension, and whoever they may view), each entry still passed through `canView`.
   */
  query(viewer: Viewer, filter: JournalFilter, limit: number, cursor?: string): JournalPage {
    const after = decodeCursor(cursor);
    const lists: RecordingSummary[][] = [];
    for (const key of [...[...viewer.users].map(userKey), ...[...viewer.numbers].map(numberKey)]) {
      const list = this.postings.get(key);
      if (list) lists.push(list);
    }
    // Where each list starts: after the cursor, and not before the `to` bound.
    const heads = lists.map((list) => {
      let i = after ? seek(list, after, false) : 0;
      if (filter.to !== undefined) i = Math.max(i, seek(list, { start: filter.to, id: '' }, true));
      return i;
    });
    const needle = filter.number?.toLowerCase();
    const rows: JournalRow[] = [];
    let last: RecordingSummary | undefined;
    for (;;) {
      let pick = -1;
      for (let k = 0; k < lists.length; k++) {
        if (heads[k] < lists[k].length && (pick < 0 || before(lists[k][heads[k]], lists[pick][heads[pick]]))) pick = k;
      }
      if (pick < 0) return { rows };
      const s = lists[pick][heads[pick]];
      // The same recording sits in several lists (caller and callee both viewable): advance all of them past it.
      for (let k = 0; k < lists.length; k++) if (heads[k] < lists[k].length && lists[k][heads[k]] === s) heads[k]++;
      if (filter.from !== undefined && s.start < filter.from) return { rows }; // merged newest-first: nothing older matches
      if (!canView(viewer, s)) continue;
      const row = toRow(viewer, s);
      if (filter.direction && row.direction !== filter.direction) continue;
      if (needle && !matches(s, needle)) continue;
      if (rows.length === limit) return { rows, next: encodeCursor(last!) };
      rows.push(row);
      last = s;
    }
  }
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
