// Deploy to 1 vs 20 hosts (20 real sshd instances on loopback, one "PBX" folder each, stand-in asterisk/systemctl),
// for a changed rule and an unchanged re-deploy: wall time, what goes over the wire, remote commands, where the time
// goes per phase, and the local process's CPU. Goal (issue 15): 20 hosts ≤ 1.5× the time of one host, both cases, at
// the default --parallel. Figures only; nothing here passes or fails on time.
// All 20 "hosts" share this machine's 2 cores with the deploying process, so their remote work (sshd, shells,
// sha256sum, the stand-in asterisk) competes with it; on real PBXs that work runs on 20 machines.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_PARALLEL } from '../ci/command-support.ts';
import { deployAll, type DeployOptions, type HostResult, type Phase, type ProgressEvent } from '../ci/deploy.ts';
import { readLocalRelease } from '../ci/release-files.ts';
import { keygen } from '../test/support/sshd.ts';
import { startPbx, type Pbx } from '../test/deploy/pbx-fixture.ts';
import { writeRelease } from '../test/deploy/release-fixture.ts';

const HOSTS = 20;
const work = mkdtempSync(join(tmpdir(), 'mitschnitt-deploy-bench-'));
const key = join(work, 'key');
keygen(key);
const out = join(work, 'out');
const pbxs: Pbx[] = [];
// All fixture PBXs share this machine: one cron and systemd folder for all is enough here.
const options: DeployOptions = {
  auth: { privateKey: readFileSync(key) },
  lock: { waitSeconds: 0, leaseMinutes: 30, force: false },
  cronDir: join(work, 'cron.d'),
  systemdDir: join(work, 'systemd'),
  keepReleases: 3,
};
mkdirSync(options.cronDir);
mkdirSync(options.systemdDir);

/** A release of realistic size: the Asterisk files (a ~10 kB dialplan), policy, cron, unit, script, 40 SNOM files. */
function release(p: Pbx, version: string): void {
  const extra: Record<string, string> = {};
  for (let i = 0; i < 40; i++) extra[`snom/000413${i.toString(16).padStart(6, '0')}.xml`] = `<settings><phone-settings/>${'<x/>'.repeat(200)}</settings>\n`;
  writeRelease(out, p.host.name, { secretsDir: p.secretsDir, dialplanBody: `exten => s,1,NoOp(${version})\n;${'x'.repeat(10_000)}`, extra });
}

/** PIDs of the sshd listeners of the fixture hosts (found by their config file). */
function listenerPids(hosts: Pbx[]): number[] {
  const configs = new Set(hosts.map((p) => join(p.sshd.dir, 'sshd_config')));
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      // sshd rewrites its title ("sshd: /usr/sbin/sshd -f <config> -D -e [listener] …"), so match within it.
      const title = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (title.includes('sshd') && [...configs].some((c) => title.includes(` ${c} `))) pids.push(Number(name));
    } catch {
      // gone
    }
  }
  return pids;
}

/**
 * CPU time (ms) spent on the simulated hosts: each listener's own time plus that of its reaped children (every
 * session's sshd, shells, sha256sum, stand-ins: a session's children are reaped into it, it into the listener).
 */
function hostCpuMs(pids: number[]): number {
  const tick = 100; // USER_HZ on Linux
  return pids.reduce((sum, pid) => {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return sum + ((Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 1000) / tick;
    } catch {
      return sum;
    }
  }, 0);
}

interface Run {
  ms: number;
  /** CPU spent by the simulated hosts (their sshd, shells and commands) during the run. */
  hostCpuMs: number;
  results: HostResult[];
  /** Average time per host spent in each phase (from its progress event to the host's next one). */
  phases: Map<Phase, number>;
  cpuMs: number;
}

async function run(label: string, hosts: Pbx[], version: string | null, parallel: number): Promise<Run> {
  if (version) for (const p of hosts) release(p, version);
  const last = new Map<string, { phase: Phase; at: number }>();
  const phases = new Map<Phase, number>();
  const onProgress = (e: ProgressEvent) => {
    const now = performance.now();
    const prev = last.get(e.host);
    if (prev) phases.set(prev.phase, (phases.get(prev.phase) ?? 0) + (now - prev.at) / hosts.length);
    last.set(e.host, { phase: e.phase, at: now });
  };
  const listeners = listenerPids(hosts);
  const hostCpu = hostCpuMs(listeners);
  const cpu = process.cpuUsage();
  const started = performance.now();
  const results = await deployAll(hosts.map((p) => p.host), (h) => readLocalRelease(out, h.name), { ...options, onProgress }, parallel);
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  await new Promise((r) => setTimeout(r, 200)); // let the listeners reap their last sessions
  const remoteCpu = hostCpuMs(listeners) - hostCpu;
  const failed = results.filter((r) => r.status === 'failed');
  if (failed.length) throw new Error(`${label}: ${failed.map((r) => `${r.host}: ${r.reason}`).join('; ')}`);
  const avg = (f: (r: HostResult) => number) => (results.reduce((n, r) => n + f(r), 0) / results.length).toFixed(0);
  console.log(
    `${label.padEnd(44)} ${ms.toFixed(0).padStart(6)} ms  per host: uploaded ${avg((r) => r.bytesUploaded).padStart(6)} B in ${avg((r) => r.filesUploaded).padStart(2)} files,` +
      ` ${avg((r) => r.remoteCommands ?? 0)} remote commands, SSH bytes sent ${avg((r) => r.wireBytes).padStart(6)} B; CPU: local ${((used.user + used.system) / 1000).toFixed(0)} ms, hosts ${remoteCpu.toFixed(0)} ms; ${[...new Set(results.map((r) => r.status))].join('/')}`,
  );
  return { ms, results, phases, cpuMs: (used.user + used.system) / 1000, hostCpuMs: remoteCpu };
}

function phaseLine(r: Run): string {
  return [...r.phases].sort((a, b) => b[1] - a[1]).map(([phase, ms]) => `${phase} ${ms.toFixed(0)}`).join(', ');
}

/** Best of n: the machine is shared, the minimum is the least disturbed figure. */
async function best(n: number, label: string, hosts: Pbx[], version: (i: number) => string | null, parallel: number): Promise<Run> {
  let min: Run | undefined;
  for (let i = 0; i < n; i++) {
    const r = await run(`${label} #${i + 1}`, hosts, version(i), parallel);
    if (!min || r.ms < min.ms) min = r;
  }
  return min!;
}

try {
  const started = Date.now();
  for (let i = 0; i < HOSTS; i++) pbxs.push(await startPbx(`bench-${String(i).padStart(2, '0')}`, { clientKeyPath: key }));
  console.log(`${HOSTS} sshd instances started in ${Date.now() - started} ms; load average ${loadavg()[0]!.toFixed(1)} on this machine`);

  await run(`first deploy, ${HOSTS} hosts, --parallel ${DEFAULT_PARALLEL}`, pbxs, 'v0', DEFAULT_PARALLEL);
  let n = 0;
  const changedOne = await best(3, 'changed rule, 1 host', pbxs.slice(0, 1), () => `v${++n}`, DEFAULT_PARALLEL);
  const changedAll = await best(3, `changed rule, ${HOSTS} hosts (default --parallel ${DEFAULT_PARALLEL})`, pbxs, () => `v${++n}`, DEFAULT_PARALLEL);
  const unchangedOne = await best(3, 'unchanged re-deploy, 1 host', pbxs.slice(0, 1), () => null, DEFAULT_PARALLEL);
  const unchangedAll = await best(3, `unchanged re-deploy, ${HOSTS} hosts`, pbxs, () => null, DEFAULT_PARALLEL);
  const old = await run(`changed rule, ${HOSTS} hosts, --parallel 4 (the old default)`, pbxs, `v${++n}`, 4);

  console.log('\nper-host time by phase (ms, average; phase = from its progress event to the next):');
  console.log(`  changed, 1 host:     ${phaseLine(changedOne)}`);
  console.log(`  changed, ${HOSTS} hosts:   ${phaseLine(changedAll)}`);
  console.log(`  unchanged, 1 host:   ${phaseLine(unchangedOne)}`);
  console.log(`  unchanged, ${HOSTS} hosts: ${phaseLine(unchangedAll)}`);
  const slowest = [...changedAll.phases].sort((a, b) => b[1] - a[1])[0]!;
  console.log(
    `\nslowest part at ${HOSTS} hosts: '${slowest[0]}' (${slowest[1].toFixed(0)} ms per host of ${changedAll.ms.toFixed(0)} ms);` +
      ` the deploying process used ${changedAll.cpuMs.toFixed(0)} ms CPU for ${HOSTS} hosts (${(changedAll.cpuMs / changedOne.cpuMs).toFixed(1)}x one host's ${changedOne.cpuMs.toFixed(0)} ms)`,
  );
  console.log(
    `the ${HOSTS} simulated hosts used ${changedAll.hostCpuMs.toFixed(0)} ms CPU for a changed rule (${(changedAll.hostCpuMs / HOSTS).toFixed(0)} ms each) and ` +
      `${unchangedAll.hostCpuMs.toFixed(0)} ms for an unchanged re-deploy: on 2 cores that alone is ≥ ${(changedAll.hostCpuMs / 2).toFixed(0)} / ${(unchangedAll.hostCpuMs / 2).toFixed(0)} ms of wall time,` +
      ` which real PBXs spend in parallel on their own CPUs`,
  );
  const ratio = (a: Run, b: Run) => (a.ms / b.ms).toFixed(2);
  console.log(
    `wall-time ratio ${HOSTS} hosts / 1 host (goal ≤ 1.5): changed rule ${ratio(changedAll, changedOne)}x, unchanged re-deploy ${ratio(unchangedAll, unchangedOne)}x` +
      ` (at --parallel ${DEFAULT_PARALLEL}; --parallel 4 gave ${ratio(old, changedOne)}x for a changed rule)`,
  );
} finally {
  await Promise.all(pbxs.map((p) => p.stop()));
  rmSync(work, { recursive: true, force: true });
}
