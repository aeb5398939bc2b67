// `mitschnitt build` on a large generated company (10k users, 1k teams, 2k rules), next to the floor:
// reading the same input files and writing the same output bytes without any work in between.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { build, renderAll } from '../generator/build.ts';
import { writeOutput } from '../generator/write-output.ts';
import { renderers } from '../generator/render-host-files.ts';
import { validateRules } from '../generator/validate.ts';
import { resolvePolicy } from '../generator/resolve-policy.ts';
import { writeRuleFiles } from '../test/fixtures/build/rule-files.ts';
import { prng } from '../test/support/prng.ts';

const USERS = 10_000;
const TEAMS = 1_000;
const ROLES = 500;
const RULES = 2_000;
const HOSTS = 3;
const RUNS = 3;


function generateCompany(dir: string): void {
  const rand = prng(42);
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(items: readonly T[]) => items[int(items.length)]!;
  const hosts = Array.from({ length: HOSTS }, (_, i) => ({
    name: `pbx-${i}`,
    address: `pbx-${i}.example.com`,
    hostKey: 'SHA256:q3Xh1C0yGQ8lV0m7n4oKcZbq2t9dWbA6l0pYfJmR1sE',
  }));
  const users = Array.from({ length: USERS }, (_, i) => ({
    id: `u${i}`,
    name: `User Nummer ${i}`,
    ext: String(10_000 + i),
    email: `u${i}@example.com`,
    host: hosts[i % HOSTS]!.name,
    phones: [{ mac: (0x000413000000 + i).toString(16).padStart(12, '0'), model: pick(['D785', 'D735', 'D717']) }],
  }));
  // A team contains 5–15 users and, sometimes, earlier teams (so nesting never forms a cycle).
  const teams = Array.from({ length: TEAMS }, (_, i) => {
    const members = new Set<string>();
    for (let k = 5 + int(11); k > 0; k--) members.add(`u${int(USERS)}`);
    if (i > 0 && rand() < 0.3) members.add(`t${int(i)}`);
    return { id: `t${i}`, name: `Team ${i}`, ...(rand() < 0.7 ? { ext: String(50_000 + i) } : {}), host: hosts[i % HOSTS]!.name, members: [...members] };
  });
  const roles = Array.from({ length: ROLES }, (_, i) => {
    const members = new Set<string>();
    for (let k = 1 + int(4); k > 0; k--) members.add(rand() < 0.6 ? `t${int(TEAMS)}` : `u${int(USERS)}`);
    const canView = rand() < 0.2 ? [`r${int(ROLES)}`] : [];
    return { id: `r${i}`, name: `Role ${i}`, members: [...members], ...(canView.length ? { canView } : {}) };
  });
  const rules = Array.from({ length: RULES }, (_, i) => ({
    id: `rule-${i}`,
    name: `Rule ${i}`,
    role: `r${int(ROLES)}`,
    mode: pick(['auto', 'manual'] as const),
    direction: pick(['inbound', 'outbound', 'both'] as const),
    origin: pick(['internal', 'external', 'both'] as const),
    active: rand() < 0.9,
    ...(rand() < 0.3 ? { retentionDays: 30 + int(300) } : {}),
    ...(rand() < 0.2 ? { deliver: rand() < 0.5 ? { email: [`archive${i % 7}@example.com`] } : { script: 'scripts/archive.sh' } } : {}),
  }));
  writeRuleFiles(dir, {
    users,
    teams,
    roles,
    rules,
    hosts,
    settings: { smtp: { host: 'mail.example.com', from: 'mitschnitt@example.com' } },
    scripts: { 'archive.sh': '#!/usr/bin/env bash\nset -euo pipefail\ncp -- "$1" "$2" /srv/archive/\n' },
  });
}

function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(path);
    }
  };
  walk(dir);
  return out;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Wall-clock ms; CPU ms (user + system) of this process go to `cpu`, steadier on a busy machine. */
async function time(fn: () => unknown, cpu?: number[]): Promise<number> {
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  await fn();
  const used = process.cpuUsage(cpuStart);
  cpu?.push((used.user + used.system) / 1000);
  return performance.now() - start;
}

const tmp = mkdtempSync(join(tmpdir(), 'mitschnitt-bench-build-'));
try {
  const rulesDir = join(tmp, 'rules');
  generateCompany(rulesDir);
  const inputs = files(rulesDir);
  const inputBytes = inputs.reduce((n, f) => n + statSync(f).size, 0);

  const buildTimes: number[] = [];
  const buildCpu: number[] = [];
  let summary: { files: number; bytes: number } | undefined;
  for (let i = 0; i < RUNS; i++) {
    buildTimes.push(
      await time(async () => {
        const result = await build({ rulesDir, outDir: join(tmp, 'out') });
        if (!result.ok) throw new Error(`generated rules invalid: ${JSON.stringify(result.errors.slice(0, 3))}`);
        summary = result.summary;
      }, buildCpu),
    );
  }

  // The floor: the same input read and the same output bytes written, nothing computed.
  const outputs = files(join(tmp, 'out')).map((path) => ({ path: relative(join(tmp, 'out'), path), bytes: readFileSync(path) }));
  const floorTimes: number[] = [];
  const floorCpu: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const target = join(tmp, `floor-${i}`);
    floorTimes.push(
      await time(() => {
        for (const f of inputs) readFileSync(f);
        for (const { path, bytes } of outputs) {
          mkdirSync(dirname(join(target, path)), { recursive: true });
          writeFileSync(join(target, path), bytes);
        }
      }, floorCpu),
    );
    rmSync(target, { recursive: true, force: true });
  }

  // Where the time goes, one run each.
  let ruleSet: ReturnType<typeof validateRules> | undefined;
  const validateMs = await time(() => (ruleSet = validateRules(rulesDir)));
  if (!ruleSet?.ok) throw new Error('generated rules invalid');
  const set = ruleSet.ruleSet;
  const resolveMs = await time(() => set.hosts.forEach((h) => resolvePolicy(set, h.name)));
  let rendered: ReturnType<typeof renderAll> | undefined;
  const renderMs = await time(() => (rendered = renderAll(set, { commit: null, dirty: false })));
  const writeMs = await time(() => writeOutput(join(tmp, 'out'), rendered!));
  const perRenderer = new Map<string, number>();
  for (const host of set.hosts) {
    const policy = resolvePolicy(set, host.name);
    for (const render of renderers) {
      const ms = await time(() => render({ ruleSet: set, policy, host }));
      perRenderer.set(render.name, (perRenderer.get(render.name) ?? 0) + ms);
    }
  }

  const b = median(buildTimes);
  const f = median(floorTimes);
  const ms = (values: number[]) => `${median(values).toFixed(0).padStart(6)} ms   [runs: ${values.map((t) => t.toFixed(0)).join(', ')}]`;
  console.log(`company: ${USERS} users, ${TEAMS} teams, ${ROLES} roles, ${RULES} rules, ${HOSTS} hosts; input ${inputs.length} files, ${(inputBytes / 1e6).toFixed(1)} MB`);
  console.log(`output: ${summary!.files} files, ${(summary!.bytes / 1e6).toFixed(1)} MB (median of ${RUNS} runs below)`);
  console.log(`build, wall clock:                    ${ms(buildTimes)}`);
  console.log(`build, CPU (user+system):             ${ms(buildCpu)}`);
  console.log(`read inputs + write outputs, wall:    ${ms(floorTimes)}`);
  console.log(`read inputs + write outputs, CPU:     ${ms(floorCpu)}`);
  console.log(`ratio build / floor: ${(b / f).toFixed(1)}x wall, ${(median(buildCpu) / median(floorCpu)).toFixed(1)}x CPU`);
  console.log(`renderers, all hosts (wall): ${[...perRenderer].map(([name, ms]) => `${name} ${ms.toFixed(0)} ms`).join(', ')}`);
  console.log(`one build in parts (wall): validate ${validateMs.toFixed(0)} ms, resolve+render+manifest ${renderMs.toFixed(0)} ms (resolve alone, all ${HOSTS} hosts: ${resolveMs.toFixed(0)} ms), write+swap ${writeMs.toFixed(0)} ms`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
