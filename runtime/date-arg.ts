import { UsageError } from '../bin/cli-support.ts';

/**
 * Dates given on the command line by a data-protection officer or an admin: `2026-11-25` (a whole local day) or a
 * full ISO-8601 time. Only four-digit years from 1970 on are accepted, and the date must exist (`2026-02-31` is
 * refused rather than silently becoming 3 March, as `Date` would make it). The commands never iterate over the
 * days of a range, they walk the folders that exist, so a huge range costs nothing extra.
 */
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?$/;

/** Start of the given day (local time) or the given moment, as epoch ms. */
export function parseDateArg(name: string, value: string, end = false): number {
  const dateOnly = DATE_ONLY.exec(value);
  const m = dateOnly ?? DATE_TIME.exec(value);
  if (!m) throw new UsageError(`${name} needs a date like 2026-11-25 or a time like 2026-11-25T08:00:00Z, got ${JSON.stringify(value.slice(0, 60))}`);
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const probe = new Date(y, mo - 1, d);
  if (y < 1970 || probe.getFullYear() !== y || probe.getMonth() !== mo - 1 || probe.getDate() !== d) {
    throw new UsageError(`${name} ${JSON.stringify(value)} is not a date that exists (years from 1970)`);
  }
  if (dateOnly) return end ? new Date(y, mo - 1, d + 1).getTime() : probe.getTime();
  const t = Date.parse(value);
  if (!Number.isFinite(t)) throw new UsageError(`${name} ${JSON.stringify(value)} is not a valid time`);
  return t;
}

/** `--since` / `--until` (or `--from` / `--to`) as a half-open range [from, to); a date-only `to` includes that day. */
export function parseRangeArgs(fromName: string, from: string | undefined, toName: string, to: string | undefined): { from?: number; to?: number } {
  const range = {
    from: from === undefined ? undefined : parseDateArg(fromName, from),
    to: to === undefined ? undefined : parseDateArg(toName, to, true),
  };
  if (range.from !== undefined && range.to !== undefined && range.from >= range.to) {
    throw new UsageError(`${fromName} must be before ${toName}`);
  }
  return range;
}
