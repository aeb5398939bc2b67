// The runtime against the real Asterisk 22 (figures only, never pass/fail):
// 1. SNOM key toggle latency (HTTP → Getvar/MixMonitor/StopMixMonitor over AMI → XML reply) on a SIPp call,
//    idle and while BENCH_ENGINE_CALLS recorded calls run;
// 2. BENCH_ENGINE_CALLS concurrent auto-recorded calls with audio (Local channels through the generated
//    routine): every recording journaled once, hang-up → journal latency, AMI events/s, serve's RSS and CPU,
//    Asterisk's CPU with serve attached and without.
// Calls are Local channels: the caller side plays a milliwatt tone, the callee side answers and echoes, and the
// caller side runs `mitschnitt-check` (Anna → external: auto) before dialing, exactly as a phone call would.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { startEnginePbx, type EnginePbx } from '../test/engine/engine-pbx.ts';
import { SippPhone } from '../test/engine/sip-phones.ts';
import type { TestAmi } from '../test/engine/asterisk-instance.ts';

const CALLS = Number(process.env.BENCH_ENGINE_CALLS ?? 200);
const TOGGLES = Number(process.env.BENCH_ENGINE_TOGGLES ?? 60);
const CARLA_MAC = '0004132a3b03';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]! : NaN);
const ms = (x: number) => `${x.toFixed(1)} ms`;
const TICK = 100; // USER_HZ

/** CPU seconds (user + system) a process used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICK;
}
function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const BENCH_DIALPLAN = `
[bench-caller]
exten => s,1,Gosub(mitschnitt-check,s,1(201,0301234567))
 same => n,Dial(Local/s@bench-callee/n,,g)
 same => n,Hangup()
[bench-callee]
exten => s,1,Answer()
 same => n,Echo()
`;

/** Starts `n` recorded calls, lets them talk `talkMs`, hangs each up; answers what was measured. */
async function callWave(pbx: EnginePbx, ami: TestAmi, n: number, talkMs: number, onTalking?: () => Promise<void>) {
  const since = ami.events.length;
  const t0 = performance.now();
  for (let i = 0; i < n; i += 20) {
    await Promise.all(
      Array.from({ length: Math.min(20, n - i) }, () => ami.action('Originate', { Channel: 'Local/s@bench-caller/n', Application: 'Milliwatt', Async: 'true' })),
    );
  }
  const deadline = Date.now() + 60_000;
  let started: string[] = [];
  while (Date.now() < deadline) {
    started = ami.events.slice(since).filter((e) => e.event === 'MixMonitorStart').map((e) => e.get('Channel')!);
    const bridged = ami.events.slice(since).filter((e) => e.event === 'BridgeEnter').length;
    if (started.length >= n && bridged >= 2 * n) break;
    await sleep(100);
  }
  const setupSeconds = (performance.now() - t0) / 1000;
  await onTalking?.();
  await sleep(talkMs);
  const hungUpAt = new Map<string, number>();
  for (const channel of started) {
    hungUpAt.set(channel, Date.now());
    await ami.action('Hangup', { Channel: channel });
  }
  const eventsSeconds = (performance.now() - t0) / 1000;
  const events = ami.events.length - since;
  return { started: started.length, setupSeconds, eventsPerSecond: events / eventsSeconds, hungUpAt };
}

async function main(): Promise<void> {
  const pbx = await startEnginePbx({ extensions: BENCH_DIALPLAN });
  try {
    // The bench's own listener takes only what it measures by (server-side filter).
    const ami = await pbx.ast.ami();
    await ami.action('Filter', { Operation: 'Add', Filter: 'Event: (MixMonitorStart|BridgeEnter|Hangup)' });
    console.log(`machine: ${cpus().length} cores (shared); real Asterisk 22.10.1; ${CALLS} concurrent calls, ${TOGGLES} key presses`);

    // 1. The same wave of recorded calls with serve attached, then without: Asterisk's CPU, serve's CPU and RSS,
    //    hang-up → journal latency, every recording journaled once.
    const serve = await pbx.startServe();
    const journalsBefore = pbx.journals().length;
    const serveCpu0 = cpuSeconds(serve.pid);
    const astCpu0 = cpuSeconds(pbx.ast.pid());
    const loggedBefore = serve.logged('recording journaled').length;
    const wave = await callWave(pbx, ami, CALLS, 5000);
    const deadline = Date.now() + 60_000;
    while (serve.logged('recording journaled').length - loggedBefore < wave.started && Date.now() < deadline) await sleep(50);
    await sleep(1000);
    const astCpuServe = cpuSeconds(pbx.ast.pid()) - astCpu0;
    const serveCpu = cpuSeconds(serve.pid) - serveCpu0;
    const latencies = journalLatencies(serve.logged('recording journaled').slice(loggedBefore), ami, wave.hungUpAt);
    console.log(`with serve: ${wave.started} calls recording after ${wave.setupSeconds.toFixed(1)} s; ${pbx.journals().length - journalsBefore} journals written; recordings without a journal: ${wave.started - latencies.length}`);
    console.log(`hang-up → journal: p50 ${ms(pct(latencies, 50))}, p99 ${ms(pct(latencies, 99))}, max ${ms(Math.max(...latencies))} (${latencies.length} recordings; hang-ups sent one by one over ${((Math.max(...wave.hungUpAt.values()) - Math.min(...wave.hungUpAt.values())) / 1000).toFixed(1)} s)`);
    console.log(`serve: CPU ${serveCpu.toFixed(2)} s for the wave, RSS ${rssMB(serve.pid).toFixed(0)} MB after it; AMI events at ${CALLS} calls: ${wave.eventsPerSecond.toFixed(0)}/s of the two kinds the bench listens to`);
    await serve.stop();
    const astCpu1 = cpuSeconds(pbx.ast.pid());
    await callWave(pbx, ami, CALLS, 5000);
    await sleep(1000);
    const astCpuBare = cpuSeconds(pbx.ast.pid()) - astCpu1;
    console.log(`Asterisk CPU for the wave: ${astCpuServe.toFixed(2)} s with serve attached, ${astCpuBare.toFixed(2)} s without`);

    // 2. SNOM key toggle latency on a SIPp call: idle, then while a wave of recorded calls runs.
    const again = await pbx.startServe(); // recovers the wave that ended while it was stopped, first
    await sleep(3000);
    const toggle = async (callId: string) => {
      const t = performance.now();
      const res = await fetch(`http://127.0.0.1:${pbx.httpPort}/snom/record?mac=${CARLA_MAC}&callid=${callId}`);
      await res.text();
      return performance.now() - t;
    };
    const carla = await SippPhone.call(pbx.ast.sipPort, { from: '301', to: '0301234567', steps: [{ media: 120_000 }, { pause: 120_000 }, { hangup: true }] });
    const callId = await carla.waitCallId();
    await sleep(1500);
    await fetch(`http://127.0.0.1:${pbx.httpPort}/`).then((r) => r.text()); // the HTTP client's own first-use cost is not serve's
    const idle: number[] = [];
    for (let i = 0; i < TOGGLES; i++) (idle.push(await toggle(callId)), await sleep(150));
    console.log(`key toggle, idle: p50 ${ms(pct(idle, 50))}, p99 ${ms(pct(idle, 99))}, max ${ms(Math.max(...idle))} (${idle.length} presses)`);
    const busy: number[] = [];
    await callWave(pbx, ami, CALLS, 1000, async () => {
      for (let i = 0; i < TOGGLES; i++) (busy.push(await toggle(callId)), await sleep(50));
    });
    console.log(`key toggle during ${CALLS} recorded calls: p50 ${ms(pct(busy, 50))}, p99 ${ms(pct(busy, 99))}, max ${ms(Math.max(...busy))} (${busy.length} presses)`);
    await carla.kill();
    await again.stop();
  } finally {
    await pbx.stop();
  }
}

/** Per journaled recording of the wave: the time from its call's hang-up to serve's "recording journaled" line. */
function journalLatencies(lines: readonly { [k: string]: unknown }[], ami: TestAmi, hungUpAt: Map<string, number>): number[] {
  const byUniqueid = new Map<string, number>();
  for (const e of ami.events) if (e.event === 'MixMonitorStart' && hungUpAt.has(e.get('Channel')!)) byUniqueid.set(e.get('Uniqueid')!, hungUpAt.get(e.get('Channel')!)!);
  const eventAt = new Map<string, number>();
  for (const e of ami.events) if (e.event === 'Hangup' && byUniqueid.has(e.get('Uniqueid')!)) eventAt.set(e.get('Uniqueid')!, ami.receivedAt(e)!);
  const toEvent = [...eventAt].map(([id, t]) => t - byUniqueid.get(id)!);
  if (toEvent.length) console.log(`hang-up action → Hangup event at an AMI listener: p50 ${ms(pct(toEvent, 50))}, p99 ${ms(pct(toEvent, 99))} (Asterisk's share of the latency below)`);
  const out: number[] = [];
  for (const l of lines) {
    const id = /\/([0-9]+\.[0-9]+)-[0-9]+\.json$/.exec(String(l.journal))?.[1];
    const at = id ? byUniqueid.get(id) : undefined;
    if (at !== undefined) out.push(Date.parse(String(l.time)) - at);
  }
  return out;
}

await main();
