// Deploy to 1 vs 20 hosts (20 real sshd instances, one "PBX" folder each), and what goes over the wire for an
// unchanged and a changed re-deploy. Figures only; nothing here passes or fails on time.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployAll, type DeployOptions, type HostResult } from '../ci/deploy.ts';
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

async function run(label: string, hosts: Pbx[], version: string | null, parallel: number): Promise<{ ms: number; results: HostResult[] }> {
  if (version) for (const p of hosts) release(p, version);
  const started = process.hrtime.bigint();
  const results = await deployAll(hosts.map((p) => p.host), (h) => readLocalRelease(out, h.name), options, parallel);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const failed = results.filter((r) => r.status === 'failed');
  if (failed.length) throw new Error(`${label}: ${failed.map((r) => `${r.host}: ${r.reason}`).join('; ')}`);
  const avg = (f: (r: HostResult) => number) => (results.reduce((n, r) => n + f(r), 0) / results.length).toFixed(0);
  console.log(
    `${label.padEnd(46)} ${ms.toFixed(0).padStart(6)} ms  per host: uploaded ${avg((r) => r.bytesUploaded).padStart(7)} B` +
      ` in ${avg((r) => r.filesUploaded).padStart(2)} files, SSH bytes sent ${avg((r) => r.wireBytes).padStart(7)} B, status ${[...new Set(results.map((r) => r.status))].join('/')}`,
  );
  return { ms, results };
}

try {
  const started = Date.now();
  for (let i = 0; i < HOSTS; i++) pbxs.push(await startPbx(`bench-${String(i).padStart(2, '0')}`, { clientKeyPath: key }));
  console.log(`${HOSTS} sshd instances started in ${Date.now() - started} ms`);

  await run(`first deploy, ${HOSTS} hosts, --parallel 4`, pbxs, 'v1', 4);
  const one = await run('changed dialplan, 1 host', pbxs.slice(0, 1), 'v2', 4);
  const p4 = await run(`changed dialplan, ${HOSTS} hosts, --parallel 4`, pbxs, 'v3', 4);
  const p20 = await run(`changed dialplan, ${HOSTS} hosts, --parallel ${HOSTS}`, pbxs, 'v4', HOSTS);
  const p1 = await run(`changed dialplan, ${HOSTS} hosts, --parallel 1`, pbxs, 'v5', 1);
  await run(`unchanged re-deploy, ${HOSTS} hosts, --parallel 4`, pbxs, null, 4);
  console.log(
    `wall-time ratio ${HOSTS} hosts / 1 host: ${(p4.ms / one.ms).toFixed(1)}x at --parallel 4, ` +
      `${(p20.ms / one.ms).toFixed(1)}x at --parallel ${HOSTS}, ${(p1.ms / one.ms).toFixed(1)}x at --parallel 1`,
  );
} finally {
  await Promise.all(pbxs.map((p) => p.stop()));
  rmSync(work, { recursive: true, force: true });
}
