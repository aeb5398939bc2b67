import { open } from 'node:fs/promises';

export interface WavInfo {
  /** 1 = PCM (Asterisk `wav`), 49 = GSM 6.10 (Asterisk `wav49`, `.WAV`). */
  audioFormat: number;
  sampleRate: number;
  byteRate: number;
  /** Offset of the first audio byte. */
  dataOffset: number;
  /** Audio bytes; taken from the file size when the header was never finalised (Asterisk stopped mid-call). */
  dataBytes: number;
  /** Whether the data chunk size in the header matches the file (false while MixMonitor still writes). */
  headerComplete: boolean;
  durationSeconds: number;
}

/**
 * Reads a RIFF/WAVE header of the two formats MixMonitor writes (PCM 8 kHz 16-bit, 44-byte header; MS-GSM,
 * 65 bytes per 320 samples = 1625 bytes/s, 60-byte header with a `fact` chunk) by walking the chunks, so other
 * layouts parse too. Returns null for a file that is not a WAV file or is too short to hold a header.
 */
export async function readWavInfo(path: string): Promise<WavInfo | null> {
  return (await readWavFile(path)).info;
}

/** The file's size and header in one open (the runtime polls this while MixMonitor closes a file). */
export async function readWavFile(path: string): Promise<{ size: number; info: WavInfo | null }> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(Math.min(size, 4096));
    await handle.read(head, 0, head.length, 0);
    return { size, info: parseWavHeader(head, size) };
  } finally {
    await handle.close();
  }
}

/**
 * MixMonitor writes the RIFF sizes only when it closes the file (format_wav[_gsm].c wav_close): a header that
 * matches a non-empty file is a finished recording, however fresh.
 */
export function closedByMixMonitor(info: WavInfo | null): boolean {
  return !!info && info.headerComplete && info.dataBytes > 0;
}

export function parseWavHeader(head: Buffer, fileSize: number): WavInfo | null {
  if (head.length < 12 || head.toString('ascii', 0, 4) !== 'RIFF' || head.toString('ascii', 8, 12) !== 'WAVE') return null;
  let offset = 12;
  let fmt: { audioFormat: number; sampleRate: number; byteRate: number } | null = null;
  while (offset + 8 <= head.length) {
    const id = head.toString('ascii', offset, offset + 4);
    const size = head.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ' && body + 16 <= head.length) {
      fmt = { audioFormat: head.readUInt16LE(body), sampleRate: head.readUInt32LE(body + 4), byteRate: head.readUInt32LE(body + 8) };
    } else if (id === 'data') {
      if (!fmt || fmt.byteRate === 0) return null;
      const available = Math.max(0, fileSize - body);
      const headerComplete = size > 0 && size <= available && available - size <= 1; // format_wav pads to even length
      const dataBytes = headerComplete ? size : available;
      return {
        ...fmt,
        dataOffset: body,
        dataBytes,
        headerComplete,
        durationSeconds: Math.round((dataBytes / fmt.byteRate) * 1000) / 1000,
      };
    }
    offset = body + size + (size & 1);
  }
  return null;
}
