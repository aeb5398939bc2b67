// Fixtures for the compliance tests (hold, subject, verify): a spool whose journals are written by the runtime's
// own JournalFinisher and JournalWriter (so they carry real SHA-256 values and one hash chain), a policy with
// users, and a runner for the real command line.
import { spawn } from 'node:child_process';
import { utimes, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Policy, PolicyRule } from '../../generator/policy.ts';
import { JournalFinisher } from '../../runtime/journal-finisher.ts';
import { JournalWriter, journalPathFor, type Journal } from '../../runtime/journal.ts';
import { silentLogger } from '../../runtime/log.ts';
import { recordingPath } from '../../runtime/recording-names.ts';
import { makeWorkspace, testPolicy, wavBytes, writePolicy } from '../delivery/support.ts';

export { makeWorkspace, wavBytes };

const none = { decision: 'none' as const };
const cells = { internal: none, external: none };

/** anna (201) and ben (202) in sales, carla (301) in support; the sales team number 600. */
export function compliancePolicy(spool: string, rules?: PolicyRule[]): Policy {
  const base = testPolicy({
    spool,
    rules: rules ?? [
      { id: 'sales-external', name: 'Vertrieb extern', mode: 'auto', retentionDays: 180, deliver: {} },
      { id: 'support-manual', name: 'Support', mode: 'manual', retentionDays: 90, deliver: {} },
    ],
  });
  const user = (id: string, name: string, ext: string) => ({ id, name, ext, host: 'pbx-test', phones: [], mayRecordManually: false, canViewUsers: [], canViewNumbers: [] });
  base.users = { anna: user('anna', 'Anna Berger', '201'), ben: user('ben', 'Ben Vogel', '202'), carla: user('carla', 'Carla Roth', '301') };
  base.numbers = {
    '201': { kind: 'user', id: 'anna', name: 'Anna Berger', host: 'pbx-test', outbound: cells, inbound: cells },
    '202': { kind: 'user', id: 'ben', name: 'Ben Vogel', host: 'pbx-test', outbound: cells, inbound: cells },
    '301': { kind: 'user', id: 'carla', name: 'Carla Roth', host: 'pbx-test', outbound: cells, inbound: cells },
    '600': { kind: 'team', id: 'sales', name: 'Vertrieb', host: 'pbx-test', outbound: cells, inbound: cells },
  };
  return base;
}

export interface Call {
  start: Date;
  caller: string;
  callee: string;
  /** Others who shared the bridge (e.g. after a transfer). */
  others?: string[];
  rule?: string;
  seconds?: number;
  previousPart?: string;
  uniqueid?: string;
  /** Caller-id names as Asterisk reported them (external parties keep theirs in the journal). */
  names?: Record<string, string>;
}

export interface Spool {
  ws: Awaited<ReturnType<typeof makeWorkspace>>;
  policy: Policy;
  /** Journals a call through the runtime's finisher; resolves to the journal. */
  record(call: Call): Promise<{ id: string; audio: string; journal: string; data: Journal }>;
}

let sequence = 0;

export async function makeSpool(prefix = 'mitschnitt-compliance-', rules?: PolicyRule[]): Promise<Spool> {
  const ws = await makeWorkspace(prefix);
  const policy = compliancePolicy(ws.spool, rules);
  await writePolicy(ws.config, policy);
  const writer = await JournalWriter.open(ws.spool);
  const finisher = new JournalFinisher({ spool: ws.spool, configDir: ws.config, policy, writer, log: silentLogger, settlePollMs: 1 });
  return {
    ws,
    policy,
    async record(call) {
      const epoch = Math.floor(call.start.getTime() / 1000);
      const uniqueid = call.uniqueid ?? `${epoch}.${++sequence}`;
      const audio = recordingPath(ws.spool, uniqueid, epoch, 'wav');
      await mkdir(dirname(audio), { recursive: true });
      const seconds = call.seconds ?? 2;
      await writeFile(audio, wavBytes(seconds));
      await utimes(audio, call.start, new Date(call.start.getTime() + seconds * 1000));
      const rule = call.rule ?? 'sales-external';
      const journal = await finisher.finish({
        audioPath: audio,
        start: call.start,
        end: new Date(call.start.getTime() + seconds * 1000),
        channel: `PJSIP/${call.caller}-00000001`,
        uniqueid,
        linkedid: uniqueid,
        vars: { MITSCHNITT_CALLER: call.caller, MITSCHNITT_CALLEE: call.callee, MITSCHNITT_DECISION: 'auto', MITSCHNITT_RULE: rule },
        participants: [call.caller, call.callee, ...(call.others ?? [])].map((number) => (call.names?.[number] ? { number, name: call.names[number]! } : { number })),
        ...(call.previousPart ? { previousPart: call.previousPart } : {}),
      });
      if (!journal) throw new Error(`the finisher did not journal ${audio}`);
      const { readFile } = await import('node:fs/promises');
      const data = JSON.parse(await readFile(journalPathFor(audio), 'utf8')) as Journal;
      return { id: data.id, audio, journal: journal, data };
    },
  };
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const CLI = join(process.cwd(), 'bin', 'mitschnitt.js');

/** Runs the real `mitschnitt` command line (tsx, as installed), with an optional environment. */
export function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, NO_COLOR: '1', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export const daysAgo = (days: number, hour = 10) => {
  const now = new Date();
  return new Date(now.getFullYear(), now.getMonth(), now.getDate() - days, hour, 0, 0);
};

/** The JSON lines of a log file (audit, deletions). */
export async function jsonLines<T = Record<string, unknown>>(path: string): Promise<T[]> {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);
}
