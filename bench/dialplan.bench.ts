// Priorities executed per decision at 10 vs 2,000 rules and 10 vs 10,000 users (they must be equal), the size of
// the generated dialplan, and how fast the test interpreter decides. Figures only; nothing here passes or fails on time.
import { resolvePolicy } from '../generator/resolve-policy.ts';
import { dialplanText } from '../generator/render-dialplan.ts';
import { Pbx } from '../test/dialplan/interpreter/pbx.ts';
import { callCheck, pathCosts, PROBES, randomRuleSet, withProbes } from '../test/dialplan/support.ts';

const SHAPES = [
  { users: 10, rules: 10 },
  { users: 10, rules: 2000 },
  { users: 10_000, rules: 10 },
  { users: 10_000, rules: 2000 },
];

const rows: string[][] = [];
let paths: string[] = [];
for (const shape of SHAPES) {
  const ruleSet = withProbes(randomRuleSet(7, { users: shape.users, teams: Math.min(50, shape.users), roles: Math.max(5, Math.floor(shape.rules / 4)), rules: shape.rules }));
  const host = ruleSet.hosts[0]!.name;
  let started = performance.now();
  const policy = resolvePolicy(ruleSet, host);
  const resolveMs = performance.now() - started;
  started = performance.now();
  const text = dialplanText(policy);
  const renderMs = performance.now() - started;
  const pbx = new Pbx(text, { now: () => 1764100000 });
  const costs = pathCosts(pbx, PROBES);
  paths = Object.keys(costs);

  const callers = [PROBES.auto, PROBES.manual, PROBES.none, ...Object.keys(policy.numbers).slice(0, 50)];
  const calls = 5000;
  started = performance.now();
  for (let i = 0; i < calls; i++) callCheck(pbx, [callers[i % callers.length]!, i % 3 ? '0301234567' : callers[(i * 7) % callers.length]!]);
  const perSecond = calls / ((performance.now() - started) / 1000);

  rows.push([
    String(shape.users),
    String(shape.rules),
    String(Object.keys(policy.numbers).length),
    String(Object.keys(policy.rules).length),
    ...Object.values(costs).map(String),
    `${(text.length / 1024).toFixed(0)} KiB`,
    `${resolveMs.toFixed(0)} ms`,
    `${renderMs.toFixed(0)} ms`,
    `${perSecond.toFixed(0)}/s`,
  ]);
}

const header = ['users', 'rules', 'numbers', 'active rules', ...paths, 'dialplan', 'resolvePolicy', 'render dialplan', 'interpreter decisions'];
console.log('Executed dialplan priorities per decision (the caller\'s Gosub line not counted):');
for (let i = 0; i < header.length; i++) {
  console.log(`  ${header[i]!.padEnd(42)} ${rows.map((r) => r[i]!.padStart(12)).join(' ')}`);
}
const equal = rows.every((r) => r.slice(4, 4 + paths.length).join() === rows[0]!.slice(4, 4 + paths.length).join());
console.log(`Priorities equal for every size: ${equal ? 'yes' : 'NO'}; maximum on any path: ${Math.max(...rows.flatMap((r) => r.slice(4, 4 + paths.length).map(Number)))}`);
console.log('(FreePBX sub-record-check: about 36 priorities for a first outbound check, 23 inbound.)');
