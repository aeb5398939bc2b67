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

/** The journal id of an audio path: its base name without extension. */
export function recordingId(audioPath: string): string {
  const base = audioPath.slice(audioPath.lastIndexOf('/') + 1);
  return base.replace(/\.(wav|WAV)$/, '');
}

/** Matches `<UNIQUEID>-<EPOCH>.wav|WAV` and returns its parts, or null for any other file. */
export function parseRecordingName(fileName: string): { uniqueid: string; epoch: number; id: string } | null {
  const m = /^([0-9]+\.[0-9]+)-([0-9]+)\.(wav|WAV)$/.exec(fileName);
  return m ? { uniqueid: m[1]!, epoch: Number(m[2]), id: `${m[1]}-${m[2]}` } : null;
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
