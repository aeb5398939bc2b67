import { readFile } from 'node:fs/promises';
import { giveToRuntime } from './state-owner.ts';
import { join } from 'node:path';
import { atomicWrite, stateDir } from './journal.ts';
import type { VerifyReport } from './integrity-verify.ts';

/**
 * What verifications saw, in `<spool>/.mitschnitt/verify-state.json`: per recording the SHA-256 its journal had
 * when first seen (journals are never rewritten, so a later difference is an edit), where it was, and when its
 * audio was last verified and whether that passed. The web client reads it to show "verified" per recording.
 */
export interface VerifiedRecording {
  journalSha256: string;
  /** Journal path relative to the spool. */
  path: string;
  /** Time of the last check of this recording's audio, and its outcome. */
  verifiedAt?: string;
  ok?: boolean;
}

export interface VerifyState {
  version: 1;
  lastRun: { at: string; since: string | null; recordingsChecked: number; findings: number };
  recordings: Record<string, VerifiedRecording>;
}

export function verifyStatePath(spool: string): string {
  return join(stateDir(spool), 'verify-state.json');
}

/** The state, or null when there is none yet (or it is unreadable: then the chain alone has to speak). */
export async function readVerifyState(spool: string): Promise<VerifyState | null> {
  try {
    const state = JSON.parse(await readFile(verifyStatePath(spool), 'utf8')) as VerifyState;
    return state?.version === 1 && typeof state.recordings === 'object' && state.recordings !== null ? state : null;
  } catch {
    return null;
  }
}

/** Merges a run into the state: first-seen hashes are kept, outcomes updated, legitimately deleted recordings dropped. */
export function mergeVerifyState(previous: VerifyState | null, report: VerifyReport): VerifyState {
  const recordings: Record<string, VerifiedRecording> = {};
  const failed = new Set(report.findings.flatMap((f) => (f.id ? [f.id] : [])));
  const verified = new Set(report.verified);
  for (const [id, hash] of Object.entries(report.journalHashes)) {
    const before = previous?.recordings[id];
    const entry: VerifiedRecording = { journalSha256: before?.journalSha256 ?? hash, path: before?.path ?? report.journalPaths[id] ?? '' };
    if (verified.has(id)) Object.assign(entry, { verifiedAt: report.checkedAt, ok: true });
    else if (failed.has(id)) Object.assign(entry, { verifiedAt: report.checkedAt, ok: false });
    else if (before?.verifiedAt) Object.assign(entry, { verifiedAt: before.verifiedAt, ok: before.ok });
    recordings[id] = entry;
  }
  // Kept while reported missing (so the finding repeats until someone acts); dropped once the deletion is explained.
  for (const f of report.findings) {
    if (f.kind === 'missing-journal' && f.id && previous?.recordings[f.id]) recordings[f.id] = previous.recordings[f.id]!;
  }
  return {
    version: 1,
    lastRun: { at: report.checkedAt, since: report.since, recordingsChecked: report.recordingsChecked, findings: report.findings.length },
    recordings,
  };
}

export async function writeVerifyState(spool: string, state: VerifyState): Promise<void> {
  await atomicWrite(verifyStatePath(spool), `${JSON.stringify(state)}\n`);
  await giveToRuntime(spool, verifyStatePath(spool));
}
