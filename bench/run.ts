// `npm run bench`: runs every bench/*.bench.ts (or those matching argv[2]) in turn; each prints its figures.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const filter = process.argv[2] ? new RegExp(process.argv[2]) : null;
const benches = readdirSync(dir).filter((f) => f.endsWith('.bench.ts') && (!filter || filter.test(f))).sort();
let failed = 0;
for (const file of benches) {
  console.log(`\n### ${file}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', `${dir}${file}`], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
if (benches.length === 0) console.log('no benchmarks found');
process.exitCode = failed ? 1 : 0;
