import { stat } from 'node:fs/promises';
import type { Policy } from '../../generator/policy.ts';
import { holdsPath, HoldSet, isActive, readHolds } from '../legal-hold.ts';
import { readVerifyState, verifyStatePath, type VerifyState } from '../verify-state.ts';
import type { RecordingSummary } from './recording-summary.ts';

/**
 * The marks the journal list shows per recording: under a legal hold (`mitschnitt hold`) and when it was last
 * verified (`mitschnitt verify`). Both files live in the spool and are written by those commands; they are read
 * again only when their modification time changes, and at most once a second. A hold's reason is not shown: it may
 * name a dispute the viewer should not learn of; the mark says only that the recording is kept.
 */
export interface ComplianceMark {
  held?: true;
  /** ISO time of the last verification of this recording, and whether it found it unaltered. */
  verifiedAt?: string;
  verified?: boolean;
}

interface Cached<T> {
  mtimeMs: number;
  value: T;
}

export class ComplianceMarks {
  private holds: Cached<HoldSet> | null = null;
  private verify: Cached<VerifyState | null> | null = null;
  private checkedAt = 0;
  private refreshing: Promise<void> | null = null;

  constructor(readonly policy: Policy, private readonly minIntervalMs = 1000) {}

  /** Re-reads the files if they changed (cheap: two stats), then answers synchronously per recording. */
  async refresh(now = Date.now()): Promise<void> {
    if (now - this.checkedAt < this.minIntervalMs) return;
    this.refreshing ??= this.reload(now).finally(() => (this.refreshing = null));
    await this.refreshing;
  }

  private async reload(now: number): Promise<void> {
    const spool = this.policy.settings.spool;
    const holdsMtime = (await stat(holdsPath(spool)).catch(() => null))?.mtimeMs ?? -1;
    if (this.holds?.mtimeMs !== holdsMtime) {
      // A damaged holds file shows no marks here; expire refuses to run on it and says so.
      const holds = await readHolds(spool).catch(() => []);
      this.holds = { mtimeMs: holdsMtime, value: new HoldSet(holds.filter((h) => isActive(h, now)), this.policy) };
    } else if (this.holds) {
      // A hold may end by its date without the file changing.
      this.holds = { mtimeMs: holdsMtime, value: new HoldSet(this.holds.value.holds.filter((h) => isActive(h, now)), this.policy) };
    }
    const verifyMtime = (await stat(verifyStatePath(spool)).catch(() => null))?.mtimeMs ?? -1;
    if (this.verify?.mtimeMs !== verifyMtime) this.verify = { mtimeMs: verifyMtime, value: await readVerifyState(spool) };
    this.checkedAt = now;
  }

  of(recording: RecordingSummary): ComplianceMark {
    const mark: ComplianceMark = {};
    const subject = { id: recording.id, start: recording.start, numbers: recording.partyNumbers, users: recording.partyUsers };
    if (this.holds && this.holds.value.coveringSubject(subject).length > 0) mark.held = true;
    const v = this.verify?.value?.recordings[recording.id];
    if (v?.verifiedAt) {
      mark.verifiedAt = v.verifiedAt;
      mark.verified = v.ok === true;
    }
    return mark;
  }
}

const bySpool = new Map<string, ComplianceMarks>();

/** One instance per spool and policy object (the web client lives as long as the process). */
export function complianceMarksFor(policy: Policy): ComplianceMarks {
  const key = policy.settings.spool;
  let marks = bySpool.get(key);
  if (!marks || marks.policy !== policy) {
    marks = new ComplianceMarks(policy);
    bySpool.set(key, marks);
  }
  return marks;
}
