import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { stateDir } from './journal.ts';
import { pendingPath, readPending, type JournalFinisher } from './journal-finisher.ts';
import type { Logger } from './log.ts';
import { closedByMixMonitor, readWavInfo } from './wav-header.ts';
import { parseRecordingName } from './recording-names.ts';

export interface RecoveryOptions {
  spool: string;
  finisher: JournalFinisher;
  log: Logger;
  /** Whether Asterisk is still recording into this file (known to the call tracker). */
  isActive(audioPath: string): boolean;
  /** Files written to more recently than this may belong to a recording whose start event is still on its way. */
  minIdleMs?: number;
  now?: Date;
}

/**
 * Finds recordings that ended while the runtime was not watching (stopped, crashed, AMI down) — audio files in
 * `<spool>/YYYY/MM/DD/` without a journal, not recording any more — and journals them with what is known: the
 * pending sidecar written at their start if there is one, else the file name (uniqueid, start epoch) and mtime.
 * Journals are marked `recovered`. Runs only after a successful AMI resync, so a live recording (whose
 * header-only file may sit unchanged while the phone rings) is never mistaken for a finished one.
 */
export async function recoverSpool(o: RecoveryOptions): Promise<RecoveryResult> {
  const minIdleMs = o.minIdleMs ?? 10_000;
  const now = (o.now ?? new Date()).getTime();
  const result: RecoveryResult = { recovered: 0, discarded: 0, skippedActive: 0 };
  const liveIds = new Set<string>();
  for (const dir of await dateDirs(o.spool)) {
    const names = await readdir(dir).catch(() => [] as string[]);
    const present = new Set(names);
    for (const name of names) {
      const parsed = parseRecordingName(name);
      if (!parsed) continue;
      liveIds.add(parsed.id);
      if (present.has(`${parsed.id}.json`)) continue;
      const audioPath = join(dir, name);
      if (o.isActive(audioPath) || o.finisher.isFinishing(audioPath)) {
        result.skippedActive++;
        continue;
      }
      const s = await stat(audioPath).catch(() => null);
      // Only a file whose header MixMonitor has not finalised must sit idle before it is judged.
      if (!s || (now - s.mtimeMs < minIdleMs && !closedByMixMonitor(await readWavInfo(audioPath).catch(() => null)))) {
        result.skippedActive++;
        // Written to lately and not known to be recording: a recording that ended just before the start (or one
        // whose start event is on its way). Look again as soon as it has been idle long enough.
        if (s) result.recheckInMs = Math.min(result.recheckInMs ?? Infinity, Math.max(0, s.mtimeMs + minIdleMs - now) + 100);
        continue;
      }
      const pending = await readPending(o.spool, audioPath);
      const journal = await o.finisher.finish({
        audioPath,
        start: pending ? new Date(pending.start) : new Date(parsed.epoch * 1000),
        end: s.mtime,
        channel: pending?.channel ?? '',
        uniqueid: pending?.uniqueid ?? parsed.uniqueid,
        linkedid: pending?.linkedid ?? parsed.uniqueid,
        vars: pending?.vars ?? {},
        participants: pending?.participants ?? [],
        ...(pending?.decision ? { decision: pending.decision } : {}),
        ...(pending?.previousPart ? { previousPart: pending.previousPart } : {}),
        ...(pending?.objectedAt ? { objectedAt: new Date(pending.objectedAt) } : {}),
        recovered: true,
      });
      if (journal) result.recovered++;
      else result.discarded++;
    }
  }
  await dropOrphanSidecars(o.spool, liveIds, now);
  if (result.recovered || result.discarded) o.log.info('spool scan finished', { spool: o.spool, ...result });
  return result;
}

export interface RecoveryResult {
  recovered: number;
  discarded: number;
  skippedActive: number;
  /** Set when an unjournaled file not known to be recording was too fresh to judge: scan again after this long. */
  recheckInMs?: number;
}

/** `<spool>/YYYY/MM/DD` folders, oldest first (the runtime's own `.mitschnitt` is skipped). */
async function dateDirs(spool: string): Promise<string[]> {
  const out: string[] = [];
  for (const y of await digits(spool, 4)) {
    for (const m of await digits(join(spool, y), 2)) {
      for (const d of await digits(join(spool, y, m), 2)) out.push(join(spool, y, m, d));
    }
  }
  return out;
}

async function digits(dir: string, width: number): Promise<string[]> {
  const names = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return names.filter((e) => e.isDirectory() && e.name.length === width && /^[0-9]+$/.test(e.name)).map((e) => e.name).sort();
}

/** Sidecars whose audio is gone (deleted as empty, expired) are of no use; young ones may belong to a new call. */
async function dropOrphanSidecars(spool: string, liveIds: Set<string>, now: number): Promise<void> {
  const dir = join(stateDir(spool), 'pending');
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const id = name.replace(/\.json$/, '');
    if (liveIds.has(id)) continue;
    const s = await stat(join(dir, name)).catch(() => null);
    if (s && now - s.mtimeMs > 3_600_000) await rm(pendingPath(spool, `${id}.wav`), { force: true });
  }
}
