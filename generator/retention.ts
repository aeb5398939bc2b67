/**
 * How long a recording is kept. A rule says `retentionDays` (counted from the call) or `retentionYears`, counted
 * as German commercial and tax law count their 6 and 10 years (§ 257 HGB, § 147 AO): from the end of the calendar
 * year of the call. A call on 3 March 2026 under `retentionYears: 10` is kept until 31 December 2036 and may go
 * from 1 January 2037 (local time of the PBX).
 */
export const DAY_MS = 86_400_000;

/** Rules kept longer than this count as long-kept (validation asks for a second copy). */
export const LONG_RETENTION_DAYS = 365;

export interface Retention {
  retentionDays: number;
  retentionYears?: number;
}

/** The first moment the recording may be deleted. */
export function retentionEnd(start: Date, r: Retention): Date {
  if (r.retentionYears !== undefined) return new Date(start.getFullYear() + r.retentionYears + 1, 0, 1);
  return new Date(start.getTime() + r.retentionDays * DAY_MS);
}

/** Whole days from the start to the end of retention: what a journal records, so `expire` never deletes early. */
export function retentionDaysFrom(start: Date, r: Retention): number {
  if (r.retentionYears === undefined) return r.retentionDays;
  return Math.ceil((retentionEnd(start, r).getTime() - start.getTime()) / DAY_MS);
}

/** Shortest and longest retention in days any recording of the rule can get (for skipping young folders safely). */
export function retentionDayBounds(r: Retention): { min: number; max: number } {
  if (r.retentionYears === undefined) return { min: r.retentionDays, max: r.retentionDays };
  // From a call at the very end of a year (N years + a moment) to one on 1 January (N + 1 years, leap days).
  return { min: r.retentionYears * 365, max: (r.retentionYears + 1) * 366 };
}

/** `90 days`, `10 years (to the end of the calendar year)` */
export function describeRetention(r: Retention): string {
  if (r.retentionYears !== undefined) return `${r.retentionYears} year${r.retentionYears === 1 ? '' : 's'} from the end of the calendar year of the call`;
  return `${r.retentionDays} days`;
}
