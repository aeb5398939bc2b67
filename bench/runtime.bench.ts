// mitschnitt serve: SNOM key toggle latency (HTTP → AMI MixMonitor/StopMixMonitor → XML reply) over loopback with
// the fake AMI server, AMI events/s (parser + call tracker alone, and end to end over TCP), RSS after 10,000 calls.
// Figures only, never pass/fail. The fake AMI server runs in the same process and takes its share of the CPU.
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AmiParser } from '../runtime/ami-parser.ts';
import { CallTracker } from '../runtime/call-tracker.ts';
import { BEN, RuntimeEnv, TRUNK, phone } from '../test/runtime/runtime-env.ts';
import { received } from '../test/runtime/transcript.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const memMB = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss / 1e6, heap: m.heapUsed / 1e6 };
};
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

// 1. Parser + tracker alone, on real Asterisk bytes (transcript 08: a recorded call with channelvars).
{
  const bytes = Buffer.concat(received('08-recorded-call-hangup-via-ami-channelvars.txt'));
  const tracker = new CallTracker();
  let events = 0;
  const t0 = performance.now();
  for (let i = 0; i < 2000; i++) {
    const parser = new AmiParser();
    for (const m of parser.feed(bytes).messages) if (m.event) (tracker.handle(m), events++);
  }
  const s = (performance.now() - t0) / 1000;
  console.log(`AMI parse + track (in process, real transcript bytes): ${Math.round(events / s).toLocaleString('en')} events/s (${events.toLocaleString('en')} events)`);
}

const env = await RuntimeEnv.create({ fileCloseDelayMs: 0 });
await env.start();
await env.serve!.synced();

// 2. Toggle latency: the SNOM key pressed 400 times on one manual call (start, stop, start, …).
{
  const call = env.plainCall(phone(BEN.ext, 'bench-call@phone'), TRUNK('0301234567'), 'manual');
  await env.sync();
  const url = `${env.base}/snom/record?mac=${encodeURIComponent(BEN.mac)}&callid=bench-call%40phone`;
  const times: number[] = [];
  for (let i = 0; i < 400; i++) {
    if (i % 2 === 1) env.fake.advance(1);
    const t0 = performance.now();
    const r = await fetch(url);
    const body = await r.text();
    times.push(performance.now() - t0);
    if (!/Aufnahme (gestartet|beendet)/.test(body)) throw new Error(`unexpected answer: ${body}`);
  }
  console.log(`SNOM key toggle (HTTP → AMI → XML), 400 presses: p50 ${pct(times, 50).toFixed(2)} ms, p99 ${pct(times, 99).toFixed(2)} ms`);
  env.fake.hangup(call.caller);
  await env.sync();
  await env.waitForJournals(200); // one journal per start/stop pair
}

// 3. End to end over loopback, and memory: 10,000 calls (every 100th recorded and journaled).
{
  const journalsBefore = (await env.journals()).length;
  const memBefore = memMB();
  const before = env.serve!.tracker.eventsProcessed;
  const t0 = performance.now();
  for (let i = 0; i < 10_000; i++) {
    const c = i % 100 === 0 ? env.recordedCall(phone('201'), TRUNK(`03${i}`)) : env.plainCall(phone(BEN.ext), TRUNK(`04${i}`), 'none');
    if (i % 100 === 0) env.fake.advance(1);
    env.fake.hangup(c.caller);
    if (i % 200 === 199) await env.sync();
  }
  await env.sync();
  const s = (performance.now() - t0) / 1000;
  const events = env.serve!.tracker.eventsProcessed - before;
  await env.waitForJournals(journalsBefore + 100);
  console.log(`AMI end to end (fake → TCP → parse → track → journal), 10,000 calls: ${Math.round(events / s).toLocaleString('en')} events/s (${events.toLocaleString('en')} events, ${s.toFixed(1)} s, fake included)`);
  const size = env.serve!.tracker.size;
  const mem = memMB();
  console.log(`After 10,000 calls: RSS ${mem.rss.toFixed(1)} MB (before ${memBefore.rss.toFixed(1)} MB), heap ${mem.heap.toFixed(1)} MB (before ${memBefore.heap.toFixed(1)} MB); still tracked: ${size.channels} channels, ${size.bridges} bridges, ${size.recordings} recordings`);
}

// 4. Another 10,000 calls: memory must not grow with the number of calls handled (the first round warms up).
{
  for (let i = 0; i < 10_000; i++) {
    const c = env.plainCall(phone(BEN.ext), TRUNK(`05${i}`), 'none');
    env.fake.hangup(c.callee);
    if (i % 200 === 199) await env.sync();
  }
  await env.sync();
  const mem = memMB();
  console.log(`After 10,000 more calls: RSS ${mem.rss.toFixed(1)} MB, heap ${mem.heap.toFixed(1)} MB; still tracked: ${env.serve!.tracker.size.channels} channels`);
}

await env.dispose();
