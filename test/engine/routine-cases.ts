// Runs calls of the generated routine `mitschnitt-check` on a real Asterisk and on the interpreter, in one shape,
// so a test can hold both (and decide()) to the same answer. One Local channel per case, driven by a generated
// context: set MDC_MON_MODE, report the arguments Gosub really hands over, call the routine twice, report.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Policy } from '../../generator/policy.ts';
import type { AmiMessage } from '../../runtime/ami-parser.ts';
import { Channel, type Pbx } from '../dialplan/interpreter/pbx.ts';
import type { AsteriskInstance, TestAmi } from './asterisk-instance.ts';

export interface RoutineCase {
  /** The Gosub arguments as text, before Gosub splits them (the admin line's substituted values). */
  args: string[];
  /** MDC_MON_MODE on the channel before the call; undefined = never set. */
  mode?: string;
}

/** What one case left on the channel, engine or interpreter alike. */
export interface RoutineObservation {
  /** The arguments the routine received (Gosub's split of the text). */
  received: string[];
  ret: string;
  decision: string;
  rule: string;
  direction: string;
  origin: string;
  caller: string;
  callee: string;
  manual: string;
  announce: string;
  /** MITSCHNITT_FILE with the channel's own UNIQUEID replaced by U and the clock reading by T (they differ between runs). */
  file: string;
  hasMixMonitorId: boolean;
  /** Frame-local variables still holding a value after the Return (must be none). */
  leaked: string[];
  /** MixMonitors started on the channel over both calls. */
  mixMonitors: number;
  priorities: number;
  warned: boolean;
  again: { ret: string; priorities: number };
}

const LOCALS = ['x', 'y', 'a', 'b', 't', 'o', 'w', 'ARG1', 'ARG2', 'ARG3', 'ARGC'];
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const decoded = (value: string | undefined) => Buffer.from(value ?? '', 'base64').toString('utf8');

/** An argument or value as dialplan text that yields exactly `value` after substitution. */
function literal(value: string): string {
  return value === '' ? '' : `\${BASE64_DECODE(${b64(value)})}`;
}

/** The driver context for a batch of cases: extension c<i> runs case i. */
function driverDialplan(cases: RoutineCase[]): string {
  const lines = [
    '[mt-args]',
    `exten => s,1,UserEvent(MtArgs,Argc: \${ARGC},${[1, 2, 3, 4].map((i) => `A${i}: \${BASE64_ENCODE(\${ARG${i}})}`).join(',')})`,
    ' same => n,Return()',
    '',
    '[mt-cases]',
  ];
  const report = (pass: number) =>
    `UserEvent(MtCase,Pass: ${pass},Ret: \${GOSUB_RETVAL},Decision: \${MITSCHNITT_DECISION},Rule: \${MITSCHNITT_RULE},Direction: \${MITSCHNITT_DIRECTION},` +
    `Origin: \${MITSCHNITT_ORIGIN},Caller: \${MITSCHNITT_CALLER},Callee: \${MITSCHNITT_CALLEE},Manual: \${MITSCHNITT_MANUAL},` +
    `Announce: \${MITSCHNITT_ANNOUNCE},File: \${MITSCHNITT_FILE},MixMon: \${MITSCHNITT_MIXMON_ID},` +
    `Leaked: ${LOCALS.map((v) => `\${IF(\${EXISTS(\${${v}})}?${v}.)}`).join('')})`;
  cases.forEach((c, i) => {
    const argText = c.args.map(literal).join(',');
    lines.push(`exten => c${i},1,NoOp(case ${i})`);
    if (c.mode !== undefined) lines.push(` same => n,Set(MDC_MON_MODE=${literal(c.mode)})`);
    lines.push(` same => n,Gosub(mt-args,s,1(${argText}))`);
    lines.push(` same => n,Gosub(mitschnitt-check,s,1(${argText}))`);
    lines.push(` same => n,${report(1)}`);
    lines.push(` same => n,Gosub(mitschnitt-check,s,1(${argText}))`);
    lines.push(` same => n,${report(2)}`);
    lines.push(' same => n,Hangup()');
  });
  return `${lines.join('\n')}\n`;
}

/**
 * Loads the routine (the generated dialplan) into a running instance whose extensions.conf includes
 * `mitschnitt.conf` and `mt-driver.conf`, then runs every case in batches; answers in case order.
 */
export async function runOnEngine(ast: AsteriskInstance, dialplan: string, cases: RoutineCase[], batch = 1500): Promise<RoutineObservation[]> {
  writeFileSync(join(ast.etc, 'mitschnitt.conf'), dialplan);
  // Only the events the cases report through: a busy matrix makes millions of VarSet/Newexten events otherwise.
  const ami = await ast.ami();
  try {
    const filter = await ami.action('Filter', { Operation: 'Add', Filter: 'Event: (UserEvent|MixMonitorStart)' });
    if (!filter.ok) throw new Error(`AMI Filter refused: ${filter.message.get('Message')}`);
    const out: RoutineObservation[] = [];
    for (let i = 0; i < cases.length; i += batch) {
      out.push(...(await runBatch(ast, ami, dialplan, cases.slice(i, i + batch))));
      ami.events.length = 0;
    }
    return out;
  } finally {
    ami.close();
  }
}

async function runBatch(ast: AsteriskInstance, ami: TestAmi, dialplan: string, cases: RoutineCase[], concurrency = 24): Promise<RoutineObservation[]> {
  writeFileSync(join(ast.etc, 'mt-driver.conf'), driverDialplan(cases));
  await ast.cli('dialplan reload');
  const shown = await ast.cli('dialplan show version@mitschnitt-check');
  const version = /exten => version,1,NoOp\(mitschnitt ([0-9a-f]+)\)/.exec(dialplan)?.[1];
  if (!version || !shown.includes(version)) throw new Error(`the routine did not load: ${shown}`);
  const logStart = ast.logMark();

  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      const last = ami.waitFor((m) => m.event === 'UserEvent' && m.get('UserEvent') === 'MtCase' && m.get('Pass') === '2' && m.get('Exten') === `c${i}`, 30_000, `case ${i}`, ami.events.length);
      const r = await ami.action('Originate', { Channel: `Local/c${i}@mt-cases/n`, Application: 'Wait', Data: '1', Async: 'true', Timeout: '5000' });
      if (!r.ok) throw new Error(`Originate of case ${i}: ${r.message.get('Message')}`);
      await last;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));

  const byChannel = new Map<string, AmiMessage[]>();
  const caseOf = new Map<number, string>();
  for (const e of ami.events) {
    const ch = e.get('Channel');
    if (!ch) continue;
    if (!byChannel.has(ch)) byChannel.set(ch, []);
    byChannel.get(ch)!.push(e);
    const m = /^Local\/c(\d+)@mt-cases-[0-9a-f]+;2$/.exec(ch);
    if (m) caseOf.set(Number(m[1]), ch);
  }
  const trace = await settledLog(ast, logStart, caseOf.size);

  return cases.map((_, i) => {
    const channel = caseOf.get(i);
    if (!channel) throw new Error(`case ${i}: no channel seen`);
    const evs = byChannel.get(channel)!;
    const args = evs.find((e) => e.event === 'UserEvent' && e.get('UserEvent') === 'MtArgs')!;
    const first = evs.find((e) => e.event === 'UserEvent' && e.get('UserEvent') === 'MtCase' && e.get('Pass') === '1')!;
    const second = evs.find((e) => e.event === 'UserEvent' && e.get('UserEvent') === 'MtCase' && e.get('Pass') === '2')!;
    const argc = Number(args.get('Argc'));
    const t = trace.get(channel) ?? { runs: [], warned: false };
    const field = (name: string) => first.get(name) ?? '';
    return {
      received: [1, 2, 3, 4].slice(0, argc).map((n) => decoded(args.get(`A${n}`))),
      ret: field('Ret'),
      decision: field('Decision'),
      rule: field('Rule'),
      direction: field('Direction'),
      origin: field('Origin'),
      caller: field('Caller'),
      callee: field('Callee'),
      manual: field('Manual'),
      announce: field('Announce'),
      file: normalizeFile(field('File'), first.get('Uniqueid') ?? ''),
      hasMixMonitorId: field('MixMon') !== '',
      leaked: field('Leaked').split('.').filter(Boolean),
      mixMonitors: evs.filter((e) => e.event === 'MixMonitorStart').length,
      priorities: t.runs[0] ?? 0,
      warned: t.warned,
      again: { ret: second.get('Ret') ?? '', priorities: t.runs[1] ?? 0 },
    };
  });
}

/**
 * Reads the verbose log until every case channel has logged its Hangup: per channel, the lengths of the runs
 * of consecutive `mitschnitt-check` priorities (one run per call), and whether its call logged a WARNING.
 */
async function settledLog(ast: AsteriskInstance, mark: number, channels: number): Promise<Map<string, { runs: number[]; warned: boolean }>> {
  const result = new Map<string, { runs: number[]; inCheck: boolean; callid: string }>();
  const warnedCalls = new Set<string>();
  let hungUp = 0;
  let rest = '';
  for (let idle = 0; hungUp < channels && idle < 100; ) {
    const chunk = ast.logSince(mark);
    mark += Buffer.byteLength(chunk);
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    if (lines.length === 0) {
      idle++;
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    for (const line of lines) {
      if (line.includes('Log queue threshold')) throw new Error('Asterisk dropped log lines (logger_queue_limit): priorities cannot be counted');
      const exec = /\]\[(C-[0-9a-f]+)\].*Executing \[[^@\]]*@([^:\]]+):\d+\] (\w+)\("(Local\/c\d+@mt-cases-[0-9a-f]+;2)"/.exec(line);
      if (exec) {
        const [, callid, context, app, channel] = exec;
        let s = result.get(channel!);
        if (!s) result.set(channel!, (s = { runs: [], inCheck: false, callid: callid! }));
        if (context === 'mitschnitt-check') {
          if (!s.inCheck) s.runs.push(0);
          s.runs[s.runs.length - 1]!++;
          s.inCheck = true;
        } else s.inCheck = false;
        if (context === 'mt-cases' && app === 'Hangup') hungUp++;
        continue;
      }
      const warn = /WARNING\[\d+\]\[(C-[0-9a-f]+)\].*mitschnitt-check/.exec(line);
      if (warn) warnedCalls.add(warn[1]!);
    }
  }
  return new Map([...result].map(([ch, s]) => [ch, { runs: s.runs, warned: warnedCalls.has(s.callid) }]));
}

/** The same case on the interpreter, in the engine's terms (arguments as the engine's Gosub split them). */
export function runOnInterpreter(pbx: Pbx, received: string[], mode: string | undefined): RoutineObservation {
  const chan = new Channel('Local/case@mt-cases-00000000;2');
  if (mode !== undefined) chan.setVar('MDC_MON_MODE', mode);
  const first = pbx.callRoutine(chan, 'mitschnitt-check', 's', 1, received);
  const v = (name: string) => chan.getVar(name) ?? '';
  const observation = {
    received,
    ret: first.retval ?? '',
    decision: v('MITSCHNITT_DECISION'),
    rule: v('MITSCHNITT_RULE'),
    direction: v('MITSCHNITT_DIRECTION'),
    origin: v('MITSCHNITT_ORIGIN'),
    caller: v('MITSCHNITT_CALLER'),
    callee: v('MITSCHNITT_CALLEE'),
    manual: v('MITSCHNITT_MANUAL'),
    announce: v('MITSCHNITT_ANNOUNCE'),
    file: normalizeFile(v('MITSCHNITT_FILE'), chan.uniqueid),
    hasMixMonitorId: v('MITSCHNITT_MIXMON_ID') !== '',
    leaked: LOCALS.filter((l) => (chan.getVar(l) ?? '') !== ''),
    warned: chan.effects.some((e) => e.kind === 'Log' && e.level === 'WARNING'),
    priorities: first.priorities,
  };
  const again = pbx.callRoutine(chan, 'mitschnitt-check', 's', 1, received);
  return { ...observation, mixMonitors: chan.mixMonitors().length, again: { ret: again.retval ?? '', priorities: again.priorities } };
}

function normalizeFile(file: string, uniqueid: string): string {
  return file.replace(/\/([^/]+)-\d+\.(wav|WAV)$/, (whole, id: string, ext: string) => (id === uniqueid ? `/U-T.${ext}` : whole));
}

/** A policy whose recordings go to `spool` (the instance's own folder) instead of the PBX's. */
export function withSpool(policy: Policy, spool: string): Policy {
  return { ...policy, settings: { ...policy.settings, spool } };
}
