import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../bin/cli-support.ts';
import { stateDir } from './journal.ts';

/** One line of `<spool>/.mitschnitt/deletions.log`: evidence of what was deleted, when and why. */
export interface DeletionRecord {
  id: string;
  /** SHA-256 of the audio (from its journal, or computed for audio without a journal). */
  sha256: string | null;
  /** SHA-256 of the journal file's bytes, so the journal hash chain stays checkable across deletions. */
  journalSha256: string | null;
  deletedAt: string;
  reason: 'retention' | 'retention-no-journal' | 'subject-request' | 'objection';
  /** For an erasure on request: the reason given and who ran it (`mitschnitt subject --erase`). */
  note?: string;
  by?: string;
  /** Path of the audio file relative to the spool. */
  audio: string | null;
  start: string | null;
  retentionDays: number;
}

export function deletionLogPath(spool: string): string {
  return join(stateDir(spool), 'deletions.log');
}

/** The append-only deletion log; each batch of records is fsynced before the caller deletes anything. */
export class DeletionLog {
  private constructor(private readonly handle: FileHandle) {}

  static async open(spool: string): Promise<DeletionLog> {
    const path = deletionLogPath(spool);
    try {
      await mkdir(stateDir(spool), { recursive: true });
      return new DeletionLog(await open(path, 'a', 0o640));
    } catch (err) {
      throw new UserError(`cannot open the deletion log ${path}: ${(err as Error).message}; nothing was deleted`);
    }
  }

  async append(records: DeletionRecord[]): Promise<void> {
    try {
      await this.handle.write(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
      await this.handle.sync();
    } catch (err) {
      throw new UserError(`cannot write the deletion log: ${(err as Error).message}; stopped before deleting these recordings`);
    }
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/**
 * The ids and journal hashes the log names (none when there is no log yet). The chain checks need the journal
 * hashes: a deleted journal's hash is still named by its successor's `previousHash`.
 */
export async function readDeletionLog(spool: string): Promise<{ ids: Set<string>; journalHashes: Set<string> }> {
  const text = await readFile(deletionLogPath(spool), 'utf8').catch(() => '');
  const ids = new Set<string>();
  const journalHashes = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as { id?: unknown; journalSha256?: unknown };
      if (typeof r.id === 'string') ids.add(r.id);
      if (typeof r.journalSha256 === 'string') journalHashes.add(r.journalSha256);
    } catch {
      // A torn last line (crash while appending) names nothing.
    }
  }
  return { ids, journalHashes };
}
