import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT, parseFlags, UsageError, UserError, type Command } from '../bin/cli-support.ts';
import type { Policy } from '../generator/policy.ts';
import { parseDateArg, parseRangeArgs } from './date-arg.ts';
import { appendCliAudit, operator } from './cli-audit.ts';
import { DEFAULT_CONFIG_DIR, loadPolicy, withSystemErrors } from './delivery-config.ts';
import { changeHolds, HOLD_ID, holdCovers, isActive, nextHoldId, readHolds, subjectOfJournal, type Hold, type HoldScope } from './legal-hold.ts';
import { dayFolders, JOURNAL_NAME, normalizeNumber, readJournal, RECORDING_ID, requireSpool } from './spool-catalog.ts';

const USAGE =
  'mitschnitt hold add (--recording ID | --number N | --user ID | --from DATE --to DATE)... --reason TEXT [--until DATE] [--config DIR] [--json]\n' +
  '       mitschnitt hold list [--all] [--recordings] [--config DIR] [--json]\n' +
  '       mitschnitt hold release HOLD-ID --reason TEXT [--config DIR] [--json]\n' +
  '  add       keep matching recordings beyond their retention; criteria combine (number AND date range …)\n' +
  '  --number  any party of the call (caller, callee, participant), e.g. +4930123456\n' +
  '  --user    a user id of users.json (their own calls and any call with their extension)\n' +
  '  --from/--to  recordings started in this range (a date-only --to includes that day)\n' +
  '  --until   the hold ends by itself at this date (default: until released)\n' +
  '  list      active holds with how many recordings each covers (--all: released and ended ones too;\n' +
  '            --recordings: which, as YYYY/MM/DD/<id>)\n' +
  '  release   ends a hold; expire may then delete its recordings at their normal retention\n' +
  'Every change is written to the audit log (mitschnitt audit).';

/** Free text that ends up in JSON files, the audit log and reports: printable, one line, bounded. */
export function checkedReason(value: string | undefined, flag = '--reason'): string {
  const reason = value?.trim() ?? '';
  if (reason === '') throw new UsageError(`${flag} TEXT is required: say why (case number, request, authority)`);
  if (reason.length > 500) throw new UsageError(`${flag} is longer than 500 characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(reason)) throw new UsageError(`${flag} may not contain control characters or line breaks`);
  return reason;
}

/** A phone number as people write it (`+49 30 123-456`, `(030) 123456`); reduced to what journals hold. */
export function checkedNumber(value: string, flag = '--number'): string {
  if (value.length > 40 || !/^[0-9+*# ()/.-]+$/.test(value)) throw new UsageError(`${flag} ${JSON.stringify(value.slice(0, 50))} is not a phone number (digits, + * #, spaces, ( ) / - .)`);
  const n = normalizeNumber(value);
  if (n === '' || !/[0-9]/.test(n)) throw new UsageError(`${flag} ${JSON.stringify(value)} holds no digits`);
  return n;
}

export function checkedUser(value: string, flag = '--user'): string {
  if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(value)) throw new UsageError(`${flag} ${JSON.stringify(value.slice(0, 50))} is not a user id (lower-case letters, digits, -)`);
  return value;
}

export function checkedRecordingId(value: string, flag = '--recording'): string {
  if (!RECORDING_ID.test(value)) throw new UsageError(`${flag} ${JSON.stringify(value.slice(0, 60))} is not a recording id (<uniqueid>-<epoch>, e.g. 1795631630.21-1795631630)`);
  return value;
}

/** The journaled recordings each hold covers now, oldest first (one walk over the journals in the holds' date span). */
async function covered(spool: string, holds: Hold[], policy: Policy): Promise<Map<string, string[]>> {
  const counts = new Map(holds.map((h) => [h.id, [] as string[]]));
  if (holds.length === 0) return counts;
  const froms = holds.map((h) => (h.scope.from ? Date.parse(h.scope.from) : -Infinity));
  const tos = holds.map((h) => (h.scope.to ? Date.parse(h.scope.to) : Infinity));
  const from = Math.min(...froms);
  const to = Math.max(...tos);
  for (const day of await dayFolders(spool, { from: Number.isFinite(from) ? from : undefined, to: Number.isFinite(to) ? to : undefined })) {
    for (const name of await readdir(day.path).catch(() => [] as string[])) {
      if (!JOURNAL_NAME.test(name)) continue;
      const read = await readJournal(join(day.path, name));
      if (!read.ok) continue;
      const subject = subjectOfJournal(read.journal);
      for (const h of holds) if (holdCovers(h, subject, policy)) counts.get(h.id)!.push(`${day.rel}/${name.replace(/\.json$/, '')}`);
    }
  }
  return counts;
}

/**
 * The journal of a recording id must exist (a hold on nothing protects nothing), and the other parts of its
 * transferred call are held with it: a dispute is about the whole conversation. Parts are minutes apart, so the
 * day folders around the recording's own day are enough to look in.
 */
async function recordingAndParts(spool: string, id: string): Promise<string[]> {
  const epoch = Number(id.slice(id.lastIndexOf('-') + 1)) * 1000;
  const folders = await dayFolders(spool, { from: epoch - 86_400_000, to: epoch + 2 * 86_400_000 });
  const previous = new Map<string, string | undefined>();
  for (const day of folders) {
    for (const name of await readdir(day.path).catch(() => [] as string[])) {
      const m = JOURNAL_NAME.exec(name);
      if (!m) continue;
      const read = await readJournal(join(day.path, name));
      if (read.ok) previous.set(m[1]!, typeof read.journal.previousPart === 'string' ? read.journal.previousPart : undefined);
    }
  }
  if (!previous.has(id)) throw new UserError(`no journaled recording ${id} in ${spool} (already deleted, or a typo?)`);
  const linked = new Set([id]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [part, prev] of previous) {
      if (prev && linked.has(part) !== linked.has(prev)) {
        linked.add(part);
        linked.add(prev);
        grew = true;
      }
    }
  }
  linked.delete(id);
  return [...linked].sort();
}

function describeScope(s: HoldScope): string {
  const parts = [
    s.recording && `recording ${s.recording}${s.parts?.length ? ` with the other parts of its call ${s.parts.join(', ')}` : ''}`,
    s.number && `number ${s.number}`,
    s.user && `user ${s.user}`,
    (s.from || s.to) && `started ${s.from ?? '…'} – ${s.to ?? '…'}`,
  ].filter(Boolean);
  return parts.join(', ');
}

async function add(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    config: { type: 'string', default: DEFAULT_CONFIG_DIR }, recording: { type: 'string' }, number: { type: 'string' }, user: { type: 'string' },
    from: { type: 'string' }, to: { type: 'string' }, until: { type: 'string' }, reason: { type: 'string' }, json: { type: 'boolean', default: false },
  });
  const reason = checkedReason(values.reason);
  const range = parseRangeArgs('--from', values.from, '--to', values.to);
  const until = values.until === undefined ? undefined : parseDateArg('--until', values.until, true);
  if (until !== undefined && until <= Date.now()) throw new UsageError('--until lies in the past: such a hold would keep nothing');
  const policy = await loadPolicy(values.config);
  await requireSpool(policy.settings.spool);
  const scope: HoldScope = {};
  if (values.recording !== undefined) {
    scope.recording = checkedRecordingId(values.recording);
    const parts = await withSystemErrors('hold', () => recordingAndParts(policy.settings.spool, scope.recording!));
    if (parts.length > 0) scope.parts = parts;
  }
  if (values.number !== undefined) scope.number = checkedNumber(values.number);
  if (values.user !== undefined) scope.user = checkedUser(values.user);
  if (range.from !== undefined) scope.from = new Date(range.from).toISOString();
  if (range.to !== undefined) scope.to = new Date(range.to).toISOString();
  if (Object.keys(scope).length === 0) throw new UsageError('say what to hold: --recording, --number, --user and/or --from/--to');
  const spool = policy.settings.spool;
  const by = operator();
  const hold = await withSystemErrors('hold', () =>
    changeHolds(spool, (holds) => {
      const h: Hold = { id: nextHoldId(holds), created: new Date().toISOString(), createdBy: by, reason, scope };
      if (until !== undefined) h.until = new Date(until).toISOString();
      holds.push(h);
      return h;
    }),
  );
  await appendCliAudit(spool, { action: 'hold-add', hold: hold.id, reason, detail: describeScope(scope), result: 'ok', ...(scope.recording ? { recording: scope.recording } : {}) });
  const coveredNow = (await covered(spool, [hold], policy)).get(hold.id)?.length ?? 0;
  if (values.json) console.log(JSON.stringify({ ...hold, covers: coveredNow }));
  else {
    console.log(`hold ${hold.id} added: ${describeScope(scope)}${hold.until ? `, until ${hold.until}` : ''}; it covers ${coveredNow} recording(s) now`);
    if (scope.user && !Object.hasOwn(policy.users, scope.user)) console.log(`note: '${scope.user}' is no user of this host's policy; only journals naming that user id match`);
  }
  return EXIT.ok;
}

async function list(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    config: { type: 'string', default: DEFAULT_CONFIG_DIR }, all: { type: 'boolean', default: false },
    recordings: { type: 'boolean', default: false }, json: { type: 'boolean', default: false },
  });
  const policy = await loadPolicy(values.config);
  const spool = policy.settings.spool;
  await requireSpool(spool);
  const now = Date.now();
  const holds = (await withSystemErrors('hold', () => readHolds(spool))).filter((h) => values.all || isActive(h, now));
  const counts = await covered(spool, holds, policy);
  if (values.json) {
    for (const h of holds) {
      const ids = counts.get(h.id)!;
      console.log(JSON.stringify({ ...h, active: isActive(h, now), covers: ids.length, ...(values.recordings ? { recordings: ids } : {}) }));
    }
    return EXIT.ok;
  }
  if (holds.length === 0) console.log(values.all ? 'no legal holds' : 'no active legal holds');
  for (const h of holds) {
    const state = h.released ? `released ${h.released.at} by ${h.released.by}: ${JSON.stringify(h.released.reason)}` : isActive(h, now) ? 'active' : `ended ${h.until}`;
    console.log(`${h.id}  ${state}\n    ${describeScope(h.scope)}${h.until ? `, until ${h.until}` : ''}\n    by ${h.createdBy} at ${h.created}: ${JSON.stringify(h.reason)}\n    covers ${counts.get(h.id)!.length} recording(s)`);
    if (values.recordings) for (const r of counts.get(h.id)!) console.log(`      ${r}`);
  }
  return EXIT.ok;
}

async function release(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { config: { type: 'string', default: DEFAULT_CONFIG_DIR }, reason: { type: 'string' }, json: { type: 'boolean', default: false } }, true);
  if (positionals.length !== 1) throw new UsageError('name exactly one hold id (see mitschnitt hold list)');
  const id = positionals[0]!;
  if (!HOLD_ID.test(id)) throw new UsageError(`${JSON.stringify(id.slice(0, 40))} is not a hold id (h1, h2, …)`);
  const reason = checkedReason(values.reason);
  const policy = await loadPolicy(values.config);
  const spool = policy.settings.spool;
  const by = operator();
  const hold = await withSystemErrors('hold', () =>
    changeHolds(spool, (holds) => {
      const h = holds.find((x) => x.id === id);
      if (!h) throw new UserError(`no hold ${id} (see mitschnitt hold list --all)`);
      if (h.released) throw new UserError(`hold ${id} was already released at ${h.released.at} by ${h.released.by}`);
      h.released = { at: new Date().toISOString(), by, reason };
      return h;
    }),
  );
  await appendCliAudit(spool, { action: 'hold-release', hold: hold.id, reason, detail: describeScope(hold.scope), result: 'ok' });
  console.log(values.json ? JSON.stringify(hold) : `hold ${hold.id} released; its recordings expire at their normal retention unless another hold covers them`);
  return EXIT.ok;
}

export const holdCommand: Command = {
  summary: 'Legal holds: keep recordings beyond their retention (add, list, release).',
  usage: USAGE,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub === 'add') return add(rest);
    if (sub === 'list') return list(rest);
    if (sub === 'release') return release(rest);
    throw new UsageError(sub === undefined ? 'say add, list or release' : `unknown subcommand ${JSON.stringify(sub.slice(0, 40))}: add, list or release`);
  },
};
