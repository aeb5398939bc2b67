import { basename, join, normalize } from 'node:path';

export type AudioFormat = 'wav' | 'wav49';

/** Asterisk's file extension for a MixMonitor format: GSM-in-WAV is written as `.WAV`. */
export function audioExtension(format: AudioFormat): 'wav' | 'WAV' {
  return format === 'wav49' ? 'WAV' : 'wav';
}

/**
 * `<spool>/<YYYY>/<MM>/<DD>/<UNIQUEID>-<EPOCH>.<ext>`, the date in the PBX's local time: the same name the
 * dialplan gives auto recordings (`${STRFTIME(${EPOCH},,%Y/%m/%d)}/${UNIQUEID}-${EPOCH}`).
 */
export function recordingPath(spool: string, uniqueid: string, epochSeconds: number, format: AudioFormat): string {
  if (!/^[0-9]+\.[0-9]+$/.test(uniqueid)) throw new Error(`not an Asterisk uniqueid: ${JSON.stringify(uniqueid)}`);
  const d = new Date(epochSeconds * 1000);
  const dir = join(spool, String(d.getFullYear()), pad(d.getMonth() + 1), pad(d.getDate()));
  return join(dir, `${uniqueid}-${epochSeconds}.${audioExtension(format)}`);
}

/**
 * The name of a recording the runtime starts itself (manual, or a part after the call moved):
 * `<spool>/<YYYY>/<MM>/<DD>/<UNIQUEID>-<EPOCH_MS>.<ext>`. Milliseconds, because one channel can be started,
 * stopped and started again within a second, and a name must never be reused nor claim a later time than the
 * start; the dialplan's names carry seconds (10 digits), ours 13, so the two never meet. Same id pattern
 * (`<digits>.<digits>-<digits>`) as every other reader of the spool expects.
 */
export function ownRecordingPath(spool: string, uniqueid: string, epochMs: number, format: AudioFormat): string {
  if (!/^[0-9]+\.[0-9]+$/.test(uniqueid)) throw new Error(`not an Asterisk uniqueid: ${JSON.stringify(uniqueid)}`);
  if (!Number.isSafeInteger(epochMs) || epochMs < MS_EPOCH_FLOOR) throw new Error(`not an epoch in milliseconds: ${epochMs}`);
  const d = new Date(epochMs);
  const dir = join(spool, String(d.getFullYear()), pad(d.getMonth() + 1), pad(d.getDate()));
  return join(dir, `${uniqueid}-${epochMs}.${audioExtension(format)}`);
}

/** Epoch values from here on are milliseconds (seconds reach 10^11 only in the year 5138). */
const MS_EPOCH_FLOOR = 100_000_000_000;

/** The journal id of an audio path: its base name without extension. */
export function recordingId(audioPath: string): string {
  const base = audioPath.slice(audioPath.lastIndexOf('/') + 1);
  return base.replace(/\.(wav|WAV)$/, '');
}

/**
 * Matches `<UNIQUEID>-<EPOCH>.wav|WAV` and returns its parts, or null for any other file. `epoch` is in seconds
 * (possibly fractional): the runtime's own names carry milliseconds.
 */
export function parseRecordingName(fileName: string): { uniqueid: string; epoch: number; id: string } | null {
  const m = /^([0-9]+\.[0-9]+)-([0-9]+)\.(wav|WAV)$/.exec(fileName);
  if (!m) return null;
  const raw = Number(m[2]);
  return { uniqueid: m[1]!, epoch: raw >= MS_EPOCH_FLOOR ? raw / 1000 : raw, id: `${m[1]}-${m[2]}` };
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/**
 * Whether a path is one of our recordings: `<spool>/YYYY/MM/DD/<UNIQUEID>-<EPOCH>.wav|WAV`, nothing else. Other
 * MixMonitors (an admin's own, FreePBX's monitor folder) are never journaled, moved or deleted by mitschnitt.
 */
export function isSpoolRecording(spool: string, path: string): boolean {
  const root = normalize(`${spool}/`);
  if (normalize(path) !== path || !path.startsWith(root)) return false;
  return /^[0-9]{4}\/[0-9]{2}\/[0-9]{2}\/[^/]+$/.test(path.slice(root.length)) && parseRecordingName(basename(path)) !== null;
}
