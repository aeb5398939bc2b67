import { rm, unlink } from 'node:fs/promises';
import { giveToRuntime } from './state-owner.ts';
import { join } from 'node:path';
import { UserError } from '../bin/cli-support.ts';
import { acquireBatchLock } from './batch-lock.ts';
import { queueDir, type QueueState } from './delivery-queue.ts';
import { DeletionLog, deletionLogPath, type DeletionRecord } from './deletion-log.ts';
import { stateDir } from './journal.ts';
import type { SubjectMatch } from './subject-request.ts';

/**
 * Erasure on request (GDPR Art. 17). Each recording's deletion is written to the deletion log (fsynced, with the
 * reason and who asked) before its files go, exactly as `expire` does, so the journals' hash chain stays checkable
 * and the erasure itself is documented. Recordings under a legal hold are kept unless `includeHeld`. Queued or
 * dead-lettered deliveries of an erased recording are cancelled; copies delivered earlier are named in the report.
 */
export interface ErasureOutcome {
  erased: string[];
  keptHeld: { id: string; holds: string[] }[];
  problems: { path: string; error: string }[];
}

export async function eraseRecordings(spool: string, matches: SubjectMatch[], o: { reason: string; by: string; includeHeld: boolean }): Promise<ErasureOutcome> {
  const outcome: ErasureOutcome = { erased: [], keptHeld: [], problems: [] };
  // The expire lock: an erasure and a retention run never delete side by side.
  const lock = await acquireBatchLock(join(stateDir(spool), 'expire.lock'));
  if (!lock.acquired) throw new UserError(`an expire run is in progress (pid ${lock.holder ?? '?'}); nothing was erased, try again in a moment`);
  try {
    const doomed = matches.filter((m) => {
      if (m.holds.length > 0 && !o.includeHeld) {
        outcome.keptHeld.push({ id: m.id, holds: m.holds });
        return false;
      }
      return true;
    });
    if (doomed.length === 0) return outcome;
    const deletedAt = new Date().toISOString();
    const records: DeletionRecord[] = doomed.map((m) => ({
      id: m.id,
      sha256: typeof m.journal.sha256 === 'string' ? m.journal.sha256 : null,
      journalSha256: m.journalSha256,
      deletedAt,
      reason: 'subject-request',
      audio: m.audioRel,
      start: m.journal.start,
      retentionDays: m.journal.retentionDays,
      note: o.reason,
      by: o.by,
    }));
    const log = await DeletionLog.open(spool);
    try {
      await log.append(records); // evidence first
    } finally {
      await log.close();
    }
    await giveToRuntime(spool, deletionLogPath(spool));
    for (const m of doomed) {
      // Audio first, then the journal: an interruption leaves a journal (found again), never lone audio.
      for (const file of [m.audioPath, m.journalPath]) {
        if (!file) continue;
        await unlink(file).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') outcome.problems.push({ path: file, error: err.message });
        });
      }
      for (const state of ['queue', 'dead', 'delivered'] as QueueState[]) await rm(join(queueDir(spool, state), `${m.id}.json`), { force: true });
      await rm(join(stateDir(spool), 'pending', `${m.id}.json`), { force: true });
      outcome.erased.push(m.id);
    }
    return outcome;
  } finally {
    await lock.release();
  }
}
