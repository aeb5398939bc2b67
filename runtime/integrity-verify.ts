import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readDeletionLog } from './deletion-log.ts';
import { readHead, sha256, type Journal } from './journal.ts';
import { AUDIO_NAME, dayFolders, JOURNAL_NAME, readJournal } from './spool-catalog.ts';
import { readVerifyState, type VerifyState } from './verify-state.ts';

/**
 * `mitschnitt verify`: is every recording complete and unaltered? Recomputes each audio file's SHA-256 against its
 * journal, checks the journals' hash chain (each journal names the SHA-256 of the one written before it; journals
 * deleted by expire or an erasure are vouched for by their `journalSha256` in the deletion log), and looks for
 * files that should not be there. What a verification saw is kept in `.mitschnitt/verified/` (verify-state.ts): the first
 * hash seen of every journal (the runtime never rewrites one), so a later run names a journal edited by hand
 * directly, and one deleted by hand (without a deletion-log entry) by its id.
 */
export type FindingKind =
  | 'missing-audio'
  | 'altered-audio'
  | 'unjournaled-audio'
  | 'altered-journal'
  | 'missing-journal'
  | 'unreadable-journal'
  | 'chain-broken'
  | 'chain-fork'
  | 'chain-head'
  | 'extra-file';

export interface Finding {
  kind: FindingKind;
  /** Path relative to the spool. */
  path: string;
  id?: string;
  detail: string;
}

export interface VerifyReport {
  checkedAt: string;
  /** Only recordings started at or after this were hashed (ISO); the chain is always checked whole. */
  since: string | null;
  /** Recordings whose audio was hashed and compared. */
  recordingsChecked: number;
  audioBytes: number;
  journals: number;
  /** Ids of the checked recordings with no finding. */
  verified: string[];
  /** SHA-256 of every journal on disk, by id (kept as first seen in the verify state). */
  journalHashes: Record<string, string>;
  /** Journal paths relative to the spool, by id. */
  journalPaths: Record<string, string>;
  /** The chain head: newest journal and its hash. */
  head: { hash: string; journal: string } | null;
  findings: Finding[];
  durationMs: number;
}

export interface VerifyOptions {
  spool: string;
  since?: number;
  now?: Date;
  /** Audio without a journal younger than this is a recording still being written (default 15 minutes). */
  unjournaledGraceMs?: number;
  /** Files hashed at once. */
  parallelism?: number;
}

interface JournalOnDisk {
  rel: string;
  dir: string;
  name: string;
  bytes: Buffer;
  hash: string;
  journal: Journal;
}

const TEMP_FILE = /\.tmp-[0-9]+-[0-9a-z]+$/;

export async function verifySpool(o: VerifyOptions): Promise<VerifyReport> {
  const t0 = Date.now();
  const now = o.now ?? new Date();
  const grace = o.unjournaledGraceMs ?? 15 * 60_000;
  const findings: Finding[] = [];
  const journals = new Map<string, JournalOnDisk>(); // by id
  const byHash = new Map<string, JournalOnDisk>();
  const audioFiles = new Map<string, { dir: string; rel: string; name: string }>(); // by id
  const previous = await readVerifyState(o.spool);
  // The head first: the journal writer renames a journal into place before it moves the head, so the head read now
  // names a journal the walk will find, while a journal written during the walk simply names the head as before.
  const head = await readHead(o.spool);

  await extraTopLevel(o.spool, findings);
  for (const day of await dayFolders(o.spool)) {
    for (const entry of await readdir(day.path, { withFileTypes: true }).catch(() => [])) {
      const rel = `${day.rel}/${entry.name}`;
      const jm = JOURNAL_NAME.exec(entry.name);
      const am = AUDIO_NAME.exec(entry.name);
      if (entry.isFile() && jm) {
        const read = await readJournal(join(day.path, entry.name));
        if (!read.ok) {
          findings.push({ kind: 'unreadable-journal', path: rel, id: jm[1], detail: read.error });
          continue;
        }
        const j: JournalOnDisk = { rel, dir: day.path, name: entry.name, bytes: read.bytes, hash: sha256(read.bytes), journal: read.journal };
        journals.set(jm[1]!, j);
        byHash.set(j.hash, j);
      } else if (entry.isFile() && am) {
        audioFiles.set(am[1]!, { dir: day.path, rel, name: entry.name });
      } else if (!(entry.isFile() && TEMP_FILE.test(entry.name))) {
        // A half-written temp file of the journal writer is no finding; anything else has no business here.
        findings.push({ kind: 'extra-file', path: rel, detail: entry.isDirectory() ? 'a folder inside a day folder' : 'not a recording or journal of mitschnitt' });
      }
    }
  }

  const deleted = await readDeletionLog(o.spool);
  // Per recording: audio against its journal (only recordings in scope are hashed).
  const hashedOk: string[] = [];
  let checked = 0;
  let audioBytes = 0;
  const inScope = (j: Journal) => o.since === undefined || Date.parse(j.start) >= o.since;
  const work: (() => Promise<void>)[] = [];
  for (const [id, j] of journals) {
    if (j.journal.id !== id || typeof j.journal.audio !== 'string' || !AUDIO_NAME.test(j.journal.audio) || !j.journal.audio.startsWith(`${id}.`)) {
      findings.push({ kind: 'altered-journal', path: j.rel, id, detail: 'its id or audio name does not match the file name' });
    }
    const firstSeen = previous?.recordings[id]?.journalSha256;
    if (firstSeen && firstSeen !== j.hash) {
      findings.push({ kind: 'altered-journal', path: j.rel, id, detail: `its SHA-256 changed since it was first verified (was ${firstSeen}, now ${j.hash})` });
    }
    if (!inScope(j.journal)) continue;
    const audio = audioFiles.get(id);
    // The caller objected and the audio was discarded on purpose (logged in deletions.log): nothing to hash.
    if (j.journal.audioDiscarded === true && !audio && deleted.ids.has(id)) continue;
    if (!audio) {
      findings.push({ kind: 'missing-audio', path: j.rel.replace(/\.json$/, `.${String(j.journal.audio).split('.').pop()}`), id, detail: 'the journal exists, its audio file does not (deleted by hand?)' });
      continue;
    }
    work.push(async () => {
      const path = join(audio.dir, audio.name);
      const { hash, size } = await hashFile(path);
      checked++;
      audioBytes += size;
      if (hash !== j.journal.sha256 || size !== j.journal.sizeBytes) {
        findings.push({
          kind: 'altered-audio', path: audio.rel, id,
          detail: `SHA-256 ${hash} (${size} bytes), the journal says ${String(j.journal.sha256)} (${String(j.journal.sizeBytes)} bytes)`,
        });
      } else hashedOk.push(id);
    });
  }
  await runLimited(work, o.parallelism ?? 4);

  for (const [id, audio] of audioFiles) {
    if (journals.has(id)) continue;
    const info = await lstat(join(audio.dir, audio.name)).catch(() => null);
    if (!info) continue;
    if (now.getTime() - info.mtimeMs < grace) continue; // still being recorded or about to be journaled
    if (o.since !== undefined && info.mtimeMs < o.since) continue;
    findings.push({ kind: 'unjournaled-audio', path: audio.rel, id, detail: `audio without a journal, last written ${new Date(info.mtimeMs).toISOString()}` });
  }

  // Journals a previous verification saw that are gone without a deletion-log entry: removed by hand.
  for (const [id, seen] of Object.entries(previous?.recordings ?? {})) {
    if (journals.has(id) || deleted.ids.has(id) || deleted.journalHashes.has(seen.journalSha256)) continue;
    findings.push({ kind: 'missing-journal', path: seen.path, id, detail: 'verified before, now gone, and not in the deletion log (deleted by hand?)' });
  }

  chainFindings(byHash, deleted.journalHashes, head, previous, findings);
  // Verified: hashed and matching, and no finding at all names it (a broken link right before it counts too).
  const named = new Set(findings.flatMap((f) => (f.id ? [f.id] : [])));
  const verified = hashedOk.filter((id) => !named.has(id));

  return {
    checkedAt: now.toISOString(),
    since: o.since === undefined ? null : new Date(o.since).toISOString(),
    recordingsChecked: checked,
    audioBytes,
    journals: journals.size,
    verified: verified.sort(),
    journalHashes: Object.fromEntries([...journals].map(([id, j]) => [id, j.hash])),
    journalPaths: Object.fromEntries([...journals].map(([id, j]) => [id, j.rel])),
    head,
    findings: findings.sort((a, b) => a.path.localeCompare(b.path) || a.kind.localeCompare(b.kind)),
    durationMs: Date.now() - t0,
  };
}

/**
 * The hash chain: a journal naming a predecessor that is neither on disk nor in the deletion log means a journal
 * was changed or removed by hand right before it; two journals naming the same predecessor mean one was inserted.
 * Where the verify state knows which journal used to have the missing hash, that journal is named as altered.
 */
function chainFindings(
  byHash: Map<string, JournalOnDisk>,
  deletedHashes: Set<string>,
  head: { hash: string; journal: string } | null,
  previous: VerifyState | null,
  findings: Finding[],
): void {
  const namedBy = new Map<string, JournalOnDisk>();
  const firstSeenBy = new Map(Object.entries(previous?.recordings ?? {}).map(([id, r]) => [r.journalSha256, { id, path: r.path }]));
  let firsts = 0;
  for (const j of byHash.values()) {
    const prev = j.journal.previousHash;
    if (prev === null || prev === undefined) {
      firsts++;
      continue;
    }
    if (!byHash.has(prev) && !deletedHashes.has(prev)) {
      const was = firstSeenBy.get(prev);
      findings.push({
        kind: 'chain-broken', path: j.rel, id: j.journal.id,
        detail: was
          ? `it names the journal before it as ${prev}, which was ${was.path} when first verified: that journal was changed or removed by hand`
          : `it names the journal before it as ${prev}, which is neither on disk nor in the deletion log: the journal written before this one was changed or removed by hand`,
      });
    }
    const other = namedBy.get(prev);
    if (other) findings.push({ kind: 'chain-fork', path: j.rel, id: j.journal.id, detail: `it and ${other.rel} name the same predecessor: one of them was inserted` });
    namedBy.set(prev, j);
  }
  if (firsts > 1) {
    for (const j of byHash.values()) if (j.journal.previousHash == null) findings.push({ kind: 'chain-fork', path: j.rel, id: j.journal.id, detail: `${firsts} journals claim to be the first of the chain` });
  }
  if (byHash.size > 0 && !head) findings.push({ kind: 'chain-head', path: '.mitschnitt/chain-head', detail: 'journals exist but the chain head is missing' });
  if (head && !byHash.has(head.hash) && !deletedHashes.has(head.hash)) {
    findings.push({ kind: 'chain-head', path: '.mitschnitt/chain-head', detail: `the head names ${head.hash} (${head.journal}), which is no journal on disk: the newest journal was changed or removed` });
  }
}

/** Anything in the spool root besides the year folders and the runtime's state folder. */
async function extraTopLevel(spool: string, findings: Finding[]): Promise<void> {
  for (const e of await readdir(spool, { withFileTypes: true }).catch(() => [])) {
    if (e.name === '.mitschnitt' || e.name === 'lost+found') continue;
    if (e.isDirectory() && /^[0-9]{4}$/.test(e.name)) {
      for (const m of await readdir(join(spool, e.name), { withFileTypes: true })) {
        if (m.isDirectory() && /^[0-9]{2}$/.test(m.name)) {
          for (const d of await readdir(join(spool, e.name, m.name), { withFileTypes: true })) {
            if (!(d.isDirectory() && /^[0-9]{2}$/.test(d.name))) findings.push({ kind: 'extra-file', path: `${e.name}/${m.name}/${d.name}`, detail: 'not a day folder' });
          }
        } else findings.push({ kind: 'extra-file', path: `${e.name}/${m.name}`, detail: 'not a month folder' });
      }
      continue;
    }
    findings.push({ kind: 'extra-file', path: e.name, detail: 'not a year folder of the spool' });
  }
}

export function hashFile(path: string): Promise<{ hash: string; size: number }> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let size = 0;
    createReadStream(path, { highWaterMark: 1 << 20 })
      .on('data', (chunk) => {
        size += chunk.length;
        hash.update(chunk);
      })
      .on('error', reject)
      .on('end', () => resolve({ hash: hash.digest('hex'), size }));
  });
}

async function runLimited(tasks: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) await tasks[next++]!();
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
}
