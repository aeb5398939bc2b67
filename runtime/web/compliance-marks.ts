import { stat } from 'node:fs/promises';
import type { Policy } from '../../generator/policy.ts';
import { holdsPath, HoldSet, isActive, readHolds } from '../legal-hold.ts';
import { readVerifiedDay, verifiedDayPath } from '../verify-state.ts';
import type { RecordingSummary } from './recording-summary.ts';

/**
 * The marks the journal list shows per recording: under a legal hold (`mitschnitt hold`) and when it was last
 * verified (`mitschnitt verify`). Both are files in the spool written by those commands: the holds file, and one
 * small verification file per day folder, so a page reads only the days it shows, however many years the spool
 * holds. A file is read again only when its modification time changes, and looked at at most once a second. A
 * hold's reason is not shown: it may name a dispute the viewer should not learn of; the mark says only that the
 * recording is kept.
 */
export interface ComplianceMark {
  held?: true;
  /** ISO time of the last verification of this recording, and whether it found it unaltered. */
  verifiedAt?: string;
  verified?: boolean;
}

type DayFile = Awaited<ReturnType<typeof readVerifiedDay>>;

interface Cached<T> {
  mtimeMs: number;
  checkedAt: number;
  value: T;
}

/** Day files kept in memory at most (a page shows 50 recordings, rarely from more than a few days). */
const MAX_DAYS = 400;

export class ComplianceMarks {
  private holds: Cached<HoldSet> | undefined;
  private readonly days = new Map<string, Cached<DayFile>>();

  constructor(readonly policy: Policy, private readonly minIntervalMs = 1000) {}

  /** Re-reads the holds and the day files of these recordings if they changed; then `of` answers synchronously. */
  async refresh(recordings: RecordingSummary[], now = Date.now()): Promise<void> {
    const spool = this.policy.settings.spool;
    // A damaged holds file shows no marks here; expire refuses to run on it and says so.
    const holds = await this.look(this.holds, holdsPath(spool), async () => new HoldSet(await readHolds(spool).catch(() => []), this.policy), now);
    // Filtered again on every look: a hold may end by its date without the file changing.
    if (holds) this.holds = { ...holds, value: new HoldSet(holds.value.holds.filter((h) => isActive(h, now)), this.policy) };
    for (const day of new Set(recordings.map(dayOf))) {
      const looked = await this.look(this.days.get(day), verifiedDayPath(spool, day), () => readVerifiedDay(spool, day), now);
      if (!looked) continue;
      // Re-inserted so the map's order is that of the last look: the day looked at longest ago goes first.
      this.days.delete(day);
      this.days.set(day, looked);
      if (this.days.size > MAX_DAYS) this.days.delete(this.days.keys().next().value!);
    }
  }

  /** The file's value as of now, read again only when its mtime changed; undefined when it was looked at too recently. */
  private async look<T>(cached: Cached<T> | undefined, path: string, read: () => Promise<T>, now: number): Promise<Cached<T> | undefined> {
    if (cached && now - cached.checkedAt < this.minIntervalMs) return undefined;
    const mtimeMs = (await stat(path).catch(() => null))?.mtimeMs ?? -1;
    return { mtimeMs, checkedAt: now, value: cached?.mtimeMs === mtimeMs ? cached.value : await read() };
  }

  of(recording: RecordingSummary): ComplianceMark {
    const mark: ComplianceMark = {};
    const subject = { id: recording.id, start: recording.start, numbers: recording.partyNumbers, users: recording.partyUsers };
    if (this.holds && this.holds.value.coveringSubject(subject).length > 0) mark.held = true;
    const entry = this.days.get(dayOf(recording))?.value?.[recording.id];
    if (Array.isArray(entry) && typeof entry[1] === 'string') {
      mark.verifiedAt = entry[1];
      mark.verified = entry[2] === true;
    }
    return mark;
  }
}

/** `YYYY/MM/DD` of the recording's day folder. */
function dayOf(recording: RecordingSummary): string {
  return recording.dir.slice(-10);
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
