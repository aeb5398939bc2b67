import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { EXIT, parseFlags, UsageError, UserError, type Command } from '../bin/cli-support.ts';
import { DEFAULT_CONFIG_DIR, loadPolicy } from './delivery-config.ts';
import { auditLogPath, type AuditEntry } from './web/audit-log.ts';

function isEntry(value: unknown): value is AuditEntry {
  const e = value as Partial<AuditEntry> | null;
  return typeof e === 'object' && e !== null && typeof e.time === 'string' && typeof e.user === 'string' && typeof e.action === 'string' && typeof e.result === 'string';
}

function columns(e: AuditEntry): string {
  // Fields are shown with JSON quoting where they could hold spaces or control characters (a tried user name).
  const safe = (s: string | undefined) => (s === undefined ? '-' : /^[\w.:@+-]*$/.test(s) && s !== '' ? s : JSON.stringify(s));
  const what = e.recording !== undefined ? `recording=${safe(e.recording)}` : e.call !== undefined ? `call=${safe(e.call)}` : e.hold !== undefined ? `hold=${safe(e.hold)}` : '-';
  // Compliance commands add what they were about and why (free text, so always quoted).
  const extra = [e.detail === undefined ? '' : ` ${JSON.stringify(e.detail)}`, e.reason === undefined ? '' : ` reason=${JSON.stringify(e.reason)}`].join('');
  return [e.time, safe(e.user).padEnd(10), e.action.padEnd(14), what.padEnd(38), safe(e.ip).padEnd(15), safe(e.result) + extra].join('  ');
}

export const auditCommand: Command = {
  summary: 'Print the web client audit log: who played, downloaded, started/stopped/paused recordings, and sign-ins.',
  usage:
    'mitschnitt audit [--config DIR] [--since ISO] [--user ID] [--json]\n' +
    `  --config DIR   the deployed build (default ${DEFAULT_CONFIG_DIR}); the log is <spool>/.mitschnitt/audit.log\n` +
    '  --since ISO    only entries at or after this time (e.g. 2026-11-01 or 2026-11-25T08:00:00Z)\n' +
    '  --user ID      only entries of this user\n' +
    '  --json         one JSON object per line, as stored',
  async run(argv) {
    const { values } = parseFlags(argv, { config: { type: 'string' }, since: { type: 'string' }, user: { type: 'string' }, json: { type: 'boolean' } });
    const since = values.since === undefined ? undefined : Date.parse(values.since);
    if (since !== undefined && !Number.isFinite(since)) throw new UsageError(`--since ${JSON.stringify(values.since)} is not an ISO-8601 date or time`);
    const policy = await loadPolicy(values.config ?? DEFAULT_CONFIG_DIR);
    const path = auditLogPath(policy.settings.spool);
    const input = createReadStream(path, 'utf8');
    const opened = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
      input.once('open', () => resolve(null));
      input.once('error', (err) => resolve(err));
    });
    if (opened?.code === 'ENOENT') {
      console.error(`no audit log yet (${path})`);
      return EXIT.ok;
    }
    if (opened) throw new UserError(`cannot read ${path}: ${opened.message}`);
    const bad: number[] = [];
    let lineNo = 0;
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      lineNo++;
      if (line.trim() === '') continue;
      let entry: unknown;
      try {
        entry = JSON.parse(line);
      } catch {
        entry = undefined;
      }
      if (!isEntry(entry)) {
        bad.push(lineNo);
        continue;
      }
      if (since !== undefined && !(Date.parse(entry.time) >= since)) continue;
      if (values.user !== undefined && entry.user !== values.user) continue;
      console.log(values.json ? JSON.stringify(entry) : columns(entry));
    }
    if (bad.length > 0) {
      // An append-only log with damaged lines may have been tampered with: say so and fail the check.
      console.error(`${path}: ${bad.length} unreadable line(s): ${bad.slice(0, 20).join(', ')}${bad.length > 20 ? ', …' : ''}`);
      return EXIT.invalid;
    }
    return EXIT.ok;
  },
};
