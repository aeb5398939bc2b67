import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';

export interface Party {
  number: string;
  name?: string;
  userId?: string;
}

/** The journal written next to every recording (`<name>.json`); see the contract in the README. */
export interface Journal {
  version: 1;
  /** Base name of the audio file without extension: `<UNIQUEID>-<EPOCH>`. */
  id: string;
  /** Audio file name (no directory; it sits next to the journal). */
  audio: string;
  host: string;
  start: string;
  end: string;
  /** From the audio header (data size / byte rate), not from wall-clock times. */
  durationSeconds: number;
  caller: Party;
  callee: Party;
  participants: Party[];
  direction: 'inbound' | 'outbound';
  origin: 'internal' | 'external';
  decision: 'auto' | 'force' | 'manual';
  rule: string | null;
  sizeBytes: number;
  /** SHA-256 of the audio file, hex; absent only when the audio was discarded (`audioDiscarded`). */
  sha256?: string;
  /** SHA-256 of the previous journal file's bytes (hash chain), null for the first journal of a spool. */
  previousHash: string | null;
  channel: string;
  uniqueid: string;
  linkedid: string;
  retentionDays: number;
  /** Set for rules kept in years (from the end of the calendar year of the call); `retentionDays` is then exact. */
  retentionYears?: number;
  /** Set when the runtime found the recording at start-up instead of seeing it end. */
  recovered?: true;
  /** Id of the recording this one continues (the call moved: transfer, redirect, pickup, …). */
  previousPart?: string;
  /** The caller objected (a deny on the call while this recording ran): when. */
  objection?: { at: string };
  /** The objected audio was deleted (settings.objection `discard`, logged in deletions.log): size 0, no sha256. */
  audioDiscarded?: true;
}

/** A journal before it is put into the chain: everything but the previous hash. */
export type JournalDraft = Omit<Journal, 'previousHash'>;

/** Runtime state folder inside the spool. */
export function stateDir(spool: string): string {
  return join(spool, '.mitschnitt');
}

/** `<name>.wav` / `<name>.WAV` → `<name>.json`. */
export function journalPathFor(audioPath: string): string {
  return audioPath.replace(/\.(wav|WAV)$/, '') + '.json';
}

/**
 * Writes journals into a hash chain. The chain head (`.mitschnitt/chain-head`: `<sha256> <journal path relative
 * to the spool>`) is advanced in two phases so a crash at any point leaves a consistent chain: the journals about
 * to be added are listed first (`chain-head.next`, one `<sha256> <path>` line each, in chain order), then the
 * journals are written, then the head names the last of them and the list is removed. `open()` finishes a list
 * whose journals are all in place and otherwise removes the ones that are (their audio is still unjournaled, so
 * the next scan journals it again). Journals that end while a batch is being written form the next batch: a
 * burst of hang-ups costs one round of fsyncs per batch, not one per journal, while the chain stays one line.
 * One chain per spool, one writer process.
 */
export class JournalWriter {
  private waiting: { journalPath: string; draft: JournalDraft; resolve(j: Journal): void; reject(e: unknown): void }[] = [];
  private flushing = false;

  private constructor(private readonly spool: string) {}

  static async open(spool: string): Promise<JournalWriter> {
    const writer = new JournalWriter(spool);
    await writer.recoverHead();
    return writer;
  }

  /** Writes `journalPath` atomically with the chain's previous hash filled in; resolves to the journal written. */
  write(journalPath: string, draft: JournalDraft): Promise<Journal> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ journalPath, draft, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.waiting.length > 0) {
      const batch = this.waiting;
      this.waiting = [];
      try {
        const journals = await this.writeBatch(batch);
        batch.forEach((b, i) => b.resolve(journals[i]!));
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.flushing = false;
  }

  private async writeBatch(batch: { journalPath: string; draft: JournalDraft }[]): Promise<Journal[]> {
    const head = await readHead(this.spool);
    let previous = head?.hash ?? null;
    const entries = batch.map(({ journalPath, draft }) => {
      const journal: Journal = { ...draft, previousHash: previous };
      const bytes = Buffer.from(`${JSON.stringify(journal, null, 2)}\n`);
      previous = sha256(bytes);
      return { journal, journalPath, bytes, line: `${previous} ${relative(this.spool, journalPath)}\n` };
    });
    const headPath = join(stateDir(this.spool), 'chain-head');
    await atomicWrite(`${headPath}.next`, entries.map((e) => e.line).join(''));
    await Promise.all(entries.map((e) => atomicWrite(e.journalPath, e.bytes)));
    await atomicWrite(headPath, entries[entries.length - 1]!.line);
    await rm(`${headPath}.next`, { force: true });
    return entries.map((e) => e.journal);
  }

  private async recoverHead(): Promise<void> {
    const headPath = join(stateDir(this.spool), 'chain-head');
    const text = await readFile(`${headPath}.next`, 'utf8').catch(() => null);
    if (text === null) return;
    const list = text.split('\n').filter(Boolean).map((line) => parseHead(line));
    const present = await Promise.all(
      list.map(async (e) => {
        if (!e) return false;
        const bytes = await readFile(join(this.spool, e.journal)).catch(() => null);
        return bytes !== null && sha256(bytes) === e.hash;
      }),
    );
    if (list.length > 0 && present.every(Boolean)) {
      const last = list[list.length - 1]!;
      await atomicWrite(headPath, `${last.hash} ${last.journal}\n`);
    } else {
      // Not all of the batch reached the disk: none of it joins the chain.
      for (const [i, e] of list.entries()) if (e && present[i]) await rm(join(this.spool, e.journal), { force: true });
    }
    await rm(`${headPath}.next`, { force: true });
  }
}

interface Head {
  hash: string;
  journal: string;
}

export async function readHead(spool: string): Promise<Head | null> {
  return parseHead(await readFile(join(stateDir(spool), 'chain-head'), 'utf8').catch(() => null));
}

function parseHead(text: string | null): Head | null {
  const m = text ? /^([0-9a-f]{64}) (.+)\n?$/.exec(text) : null;
  return m ? { hash: m[1]!, journal: m[2]! } : null;
}

export function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Temp file in the same directory, fsync, rename: readers see the old file or the whole new one. */
export async function atomicWrite(path: string, content: Buffer | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  // The folder nearly always exists: creating it only when missing saves a mkdir per write under a burst.
  const handle = await open(tmp, 'w', 0o640).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
    await mkdir(dirname(path), { recursive: true });
    return open(tmp, 'w', 0o640);
  });
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
