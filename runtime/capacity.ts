import { lstat, readdir, readFile, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Policy } from '../generator/policy.ts';
import type { Journal } from './journal.ts';
import type { Logger } from './log.ts';

/** Bytes per minute of audio: wav = 8000 Hz × 2 bytes × 60 s; wav49 (GSM in WAV) = 1625 bytes/s × 60 s. */
export const BYTES_PER_MINUTE = { wav: 8000 * 2 * 60, wav49: 1625 * 60 } as const;
export type Format = keyof typeof BYTES_PER_MINUTE;

/** Recorded minutes per day, plain and weighted by how long each recording is kept. */
export interface Load {
  source: 'journals' | 'assumed';
  days: number;
  recordings: number;
  minutesPerDay: number;
  /** Σ(minutes × retention days) per day: the minutes on disk once every recording lives its full retention. */
  retainedMinutes: number;
  /** Measured bytes per day in the configured format (journals only). */
  measuredBytesPerDay: number | null;
}

export interface FormatNeed {
  perDayBytes: number;
  atFullRetentionBytes: number;
}

export interface CapacityReport {
  spool: string;
  format: Format;
  load: Load;
  need: Record<Format, FormatNeed>;
  disk: { freeBytes: number; totalBytes: number; spoolBytes: number };
  /** Free disk minus what the spool still grows by (configured format) until the oldest recordings expire. */
  headroomBytes: number;
  /** Days of recording the headroom covers at the current load. */
  headroomDays: number | null;
  warnings: string[];
}

/** Minutes per day from the journals of the `days` complete local days before `now`. */
export async function loadFromJournals(policy: Policy, days: number, now: Date): Promise<Load> {
  const spool = policy.settings.spool;
  let recordings = 0;
  let minutes = 0;
  let retained = 0;
  let bytes = 0;
  for (let back = 1; back <= days; back++) {
    const day = new Date(now.getFullYear(), now.getMonth(), now.getDate() - back);
    const dir = join(spool, String(day.getFullYear()), pad(day.getMonth() + 1), pad(day.getDate()));
    const names = await readdir(dir).catch(() => [] as string[]);
    const journals = await Promise.all(
      names.filter((n) => n.endsWith('.json')).map((n) => readFile(join(dir, n), 'utf8').then(parseJournal, () => null)),
    );
    for (const j of journals) {
      if (!j) continue;
      recordings++;
      minutes += j.durationSeconds / 60;
      retained += (j.durationSeconds / 60) * j.retentionDays;
      bytes += j.sizeBytes;
    }
  }
  return {
    source: 'journals',
    days,
    recordings,
    minutesPerDay: minutes / days,
    retainedMinutes: retained / days,
    measuredBytesPerDay: bytes / days,
  };
}

/** `retentionDays`: how long the assumed calls are kept (default settings.retentionDays; a rule's for `--rule`). */
export function assumedLoad(policy: Policy, callsPerDay: number, minutesPerCall: number, retentionDays = policy.settings.retentionDays): Load {
  const minutesPerDay = callsPerDay * minutesPerCall;
  return {
    source: 'assumed',
    days: 1,
    recordings: callsPerDay,
    minutesPerDay,
    retainedMinutes: minutesPerDay * retentionDays,
    measuredBytesPerDay: null,
  };
}

/** Pure: the disk need per format and the verdict against the free space. */
export function assessCapacity(
  policy: Policy,
  load: Load,
  disk: CapacityReport['disk'],
  minHeadroomDays: number,
): CapacityReport {
  const need = {} as Record<Format, FormatNeed>;
  for (const format of Object.keys(BYTES_PER_MINUTE) as Format[]) {
    need[format] = {
      perDayBytes: load.minutesPerDay * BYTES_PER_MINUTE[format],
      atFullRetentionBytes: load.retainedMinutes * BYTES_PER_MINUTE[format],
    };
  }
  const format = policy.settings.format;
  const growth = Math.max(0, need[format].atFullRetentionBytes - disk.spoolBytes);
  const headroomBytes = disk.freeBytes - growth;
  const perDay = need[format].perDayBytes;
  const headroomDays = perDay > 0 ? headroomBytes / perDay : null;
  const warnings: string[] = [];
  if (headroomBytes < 0) {
    warnings.push(
      `the spool filesystem is too small: at full retention the recordings need ${formatBytes(need[format].atFullRetentionBytes)}, ` +
        `${formatBytes(growth)} more than today, but only ${formatBytes(disk.freeBytes)} are free`,
    );
  } else if (headroomDays !== null && headroomDays < minHeadroomDays) {
    warnings.push(
      `little headroom: once recordings reach full retention, the free space left covers only ${headroomDays.toFixed(1)} days of recording (threshold ${minHeadroomDays})`,
    );
  }
  if (load.source === 'journals' && load.recordings === 0) {
    warnings.push(`no recordings in the last ${load.days} days: figures are zero; use --calls-per-day and --minutes-per-call to plan`);
  }
  return { spool: policy.settings.spool, format, load, need, disk, headroomBytes, headroomDays, warnings };
}

/** Free and total bytes of the filesystem holding `path` (or its nearest existing parent), and the spool's size. */
export async function measureDisk(spool: string): Promise<CapacityReport['disk']> {
  const fs = await statfsNearest(spool);
  return { freeBytes: fs.bavail * fs.bsize, totalBytes: fs.blocks * fs.bsize, spoolBytes: await spoolBytes(spool) };
}

async function statfsNearest(path: string) {
  for (let p = path; ; p = dirname(p)) {
    try {
      return await statfs(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || p === dirname(p)) throw err;
    }
  }
}

/** Bytes of the recordings in the spool's date folders. */
async function spoolBytes(spool: string): Promise<number> {
  let total = 0;
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (depth < 3 && e.isDirectory() && /^[0-9]+$/.test(e.name)) await walk(join(dir, e.name), depth + 1);
      else if (depth === 3 && e.isFile()) total += await lstat(join(dir, e.name)).then((s) => s.size, () => 0);
    }
  };
  await walk(spool, 0);
  return total;
}

export interface SpaceThresholds {
  /** Warn below this many free bytes (default 2 GiB). */
  minFreeBytes?: number;
  /** Warn below this share of the filesystem free (default 5 %). */
  minFreeRatio?: number;
}

export async function checkSpoolSpace(spool: string, t: SpaceThresholds = {}) {
  const fs = await statfsNearest(spool);
  const freeBytes = fs.bavail * fs.bsize;
  const totalBytes = fs.blocks * fs.bsize;
  const low = freeBytes < (t.minFreeBytes ?? 2 * 1024 ** 3) || freeBytes < totalBytes * (t.minFreeRatio ?? 0.05);
  return { freeBytes, totalBytes, low };
}

/**
 * For the runtime: checks the spool filesystem now and then every `intervalMs`, logging a warning on each check
 * while space is low (and once when it recovers). Returns a function that stops it. The timer never keeps the
 * process alive on its own.
 */
export function startSpoolSpaceMonitor(o: { spool: string; log: Logger; intervalMs?: number } & SpaceThresholds): () => void {
  let wasLow = false;
  const check = async () => {
    try {
      const s = await checkSpoolSpace(o.spool, o);
      if (s.low) {
        o.log.warn('spool filesystem is running low on space: recordings may be lost', {
          spool: o.spool, freeBytes: s.freeBytes, totalBytes: s.totalBytes,
        });
      } else if (wasLow) {
        o.log.info('spool filesystem has enough free space again', { spool: o.spool, freeBytes: s.freeBytes });
      }
      wasLow = s.low;
    } catch (err) {
      o.log.error('cannot check free space of the spool filesystem', { spool: o.spool, error: (err as Error).message });
    }
  };
  void check();
  const timer = setInterval(check, o.intervalMs ?? 10 * 60_000);
  timer.unref();
  return () => clearInterval(timer);
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

function parseJournal(text: string): Pick<Journal, 'durationSeconds' | 'retentionDays' | 'sizeBytes'> | null {
  try {
    const j = JSON.parse(text) as Partial<Journal>;
    const ok = [j.durationSeconds, j.retentionDays, j.sizeBytes].every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0);
    return ok ? (j as Journal) : null;
  } catch {
    return null;
  }
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
