/**
 * Incremental parser of the AMI byte stream: the banner line, then blocks of `Key: Value` lines (CRLF) ended by an
 * empty line. TCP reads split blocks anywhere (transcripts 04 and 09), so bytes are buffered until a block is whole.
 */

/** One AMI message (response or event) with headers in wire order; repeated keys (ChanVariable) are kept. */
export class AmiMessage {
  constructor(readonly headers: readonly [string, string][]) {}

  /**
   * First value of a header; Asterisk's spelling is tried first, then case-insensitively. A scan, not a map: a
   * message has a few dozen headers and is read a handful of times, and building maps per message was the
   * runtime's largest cost at 200 concurrent calls (bench/engine.bench.ts).
   */
  get(key: string): string | undefined {
    const headers = this.headers;
    for (let i = 0; i < headers.length; i++) if (headers[i]![0] === key) return headers[i]![1];
    const folded = key.toLowerCase();
    for (let i = 0; i < headers.length; i++) {
      const name = headers[i]![0];
      if (name.length === folded.length && name.toLowerCase() === folded) return headers[i]![1];
    }
    return undefined;
  }

  get event(): string | undefined {
    return this.get('Event');
  }

  get response(): string | undefined {
    return this.get('Response');
  }

  get actionId(): string | undefined {
    return this.get('ActionID');
  }

  /**
   * The `ChanVariable` headers of one channel snapshot as name → value (`prefix` selects e.g. `Dest`,
   * `Transferee`). Asterisk drops the `_`/`__` prefix here and lists unset variables with an empty value.
   */
  chanVars(prefix = ''): Map<string, string> {
    const key = `${prefix}ChanVariable`.toLowerCase();
    const vars = new Map<string, string>();
    for (const [name, value] of this.headers) {
      if (name.toLowerCase() !== key) continue;
      const eq = value.indexOf('=');
      if (eq > 0) vars.set(value.slice(0, eq), value.slice(eq + 1));
    }
    return vars;
  }
}

const NON_ASCII = /[\x80-\xff]/;

export class AmiParser {
  private buffer = '';
  private bannerSeen = false;

  /** Feeds one TCP read; returns the banner (once) and every message completed by it. */
  feed(chunk: Buffer | string): { banner?: string; messages: AmiMessage[] } {
    // latin1 keeps every byte as one char, so a multi-byte UTF-8 sequence split across reads survives;
    // values are decoded as UTF-8 once the block is whole.
    this.buffer += typeof chunk === 'string' ? chunk : chunk.toString('latin1');
    const result: { banner?: string; messages: AmiMessage[] } = { messages: [] };
    if (!this.bannerSeen) {
      const nl = this.buffer.indexOf('\n');
      if (nl < 0) return result;
      result.banner = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      this.bannerSeen = true;
    }
    let start = 0;
    for (;;) {
      const end = findBlockEnd(this.buffer, start);
      if (!end) break;
      const raw = this.buffer.slice(start, end.index);
      const text = NON_ASCII.test(raw) ? Buffer.from(raw, 'latin1').toString('utf8') : raw;
      start = end.index + end.length;
      const headers = parseBlock(text);
      if (headers.length > 0) result.messages.push(new AmiMessage(headers));
    }
    this.buffer = this.buffer.slice(start);
    return result;
  }

  reset(): void {
    this.buffer = '';
    this.bannerSeen = false;
  }
}

/**
 * Asterisk ends blocks with CRLF CRLF; a bare LF LF is accepted too (some proxies rewrite line ends). The LF form
 * is only looked for within the next block's reach, so a long buffer is not rescanned once per block.
 */
function findBlockEnd(buffer: string, from: number): { index: number; length: number } | null {
  const crlf = buffer.indexOf('\r\n\r\n', from);
  const lf = crlf < 0 ? buffer.indexOf('\n\n', from) : buffer.slice(from, crlf).indexOf('\n\n');
  if (crlf < 0) return lf < 0 ? null : { index: lf, length: 2 };
  return lf < 0 ? { index: crlf, length: 4 } : { index: from + lf, length: 2 };
}

function parseBlock(text: string): [string, string][] {
  const headers: [string, string][] = [];
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.length === 0) continue;
    const colon = line.indexOf(':');
    if (colon < 0) {
      headers.push([line, '']);
      continue;
    }
    // "Key: Value" — exactly one space follows the colon on the wire; a value may itself start with spaces.
    const value = line.slice(colon + 1);
    headers.push([line.slice(0, colon), value.startsWith(' ') ? value.slice(1) : value]);
  }
  return headers;
}

/** Serialises an action; values with CR/LF would inject headers, so they are refused. */
export function formatAction(headers: [string, string][]): string {
  let out = '';
  for (const [key, value] of headers) {
    if (/[\r\n]/.test(key) || /[\r\n]/.test(value) || key.includes(':')) {
      throw new Error(`AMI header ${JSON.stringify(key)} contains a line break or colon`);
    }
    out += `${key}: ${value}\r\n`;
  }
  return `${out}\r\n`;
}
