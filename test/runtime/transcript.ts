/** Reads a wire transcript (test/fixtures/ami/*.txt): the raw byte chunks in order, per direction. */
import { readFileSync } from 'node:fs';

export interface Chunk {
  dir: 'recv' | 'sent';
  bytes: Buffer;
}

export function readTranscript(name: string): Chunk[] {
  const data = readFileSync(new URL(`../fixtures/ami/${name}`, import.meta.url));
  const chunks: Chunk[] = [];
  let pos = 0;
  while (pos < data.length) {
    const nl = data.indexOf(0x0a, pos);
    if (nl < 0) break;
    const line = data.toString('latin1', pos, nl);
    const m = /^(<<< RECV|>>> SENT) t=[\d.]+s n=(\d+)$/.exec(line);
    if (m) {
      const n = Number(m[2]);
      chunks.push({ dir: m[1] === '<<< RECV' ? 'recv' : 'sent', bytes: data.subarray(nl + 1, nl + 1 + n) });
      pos = nl + 1 + n + 1;
    } else {
      pos = nl + 1;
    }
  }
  return chunks;
}

export function received(name: string): Buffer[] {
  return readTranscript(name).filter((c) => c.dir === 'recv').map((c) => c.bytes);
}
