import type { HostResult, ProgressEvent } from './deploy.ts';

const SYMBOL: Record<string, string> = { done: '✓', failed: '✗' };

/**
 * One line per host. On a terminal the lines are redrawn in place as hosts progress; elsewhere (CI logs) every
 * event is a plain line of its own.
 */
export class ProgressView {
  private readonly lines = new Map<string, string>();
  private drawn = 0;

  constructor(
    private readonly stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
    hosts: string[],
  ) {
    for (const h of hosts) this.lines.set(h, 'waiting');
  }

  update(event: ProgressEvent): void {
    const text = `${SYMBOL[event.phase] ?? '…'} ${event.phase}${event.detail ? `: ${event.detail}` : ''}`;
    this.lines.set(event.host, text);
    if (this.stream.isTTY) this.redraw();
    else this.stream.write(`[${event.host}] ${text}\n`);
  }

  private redraw(): void {
    const width = Math.max(20, (this.stream.columns ?? 100) - 1);
    const nameWidth = Math.max(...[...this.lines.keys()].map((h) => h.length));
    let out = this.drawn ? `\x1b[${this.drawn}A` : '';
    for (const [host, text] of this.lines) out += `\x1b[2K${`${host.padEnd(nameWidth)}  ${text}`.slice(0, width)}\n`;
    this.drawn = this.lines.size;
    this.stream.write(out);
  }
}

function kb(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} kB`;
}

/** The summary table printed after a deploy, then one line per failure with its reason. */
export function summaryTable(results: HostResult[]): string {
  const rows = [
    ['HOST', 'STATUS', 'RELEASE', 'COMMIT', 'UPLOADED', 'RELOADED'],
    ...results.map((r) => [
      r.host,
      r.status + (r.rolledBack ? ' (rolled back)' : ''),
      r.release ?? '-',
      r.commit ? r.commit.slice(0, 12) : '-',
      `${kb(r.bytesUploaded)} (${r.filesUploaded} files)`,
      [...r.reloaded, ...(r.restarted ? ['runtime restarted'] : [])].join(', ') || '-',
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
  for (const r of results) {
    if (r.reason) lines.push(`${r.host}: ${r.reason}`);
    for (const note of r.notes) lines.push(`${r.host}: note: ${note}`);
  }
  return lines.join('\n') + '\n';
}
