// The per-host provisioning renderers (SNOM files, cron, AMI user, features, systemd unit) on a large host:
// 10k users with one SNOM phone each, every third allowed to record manually.
import { performance } from 'node:perf_hooks';
import { renderSnom } from '../generator/render-snom.ts';
import { renderCron } from '../generator/render-cron.ts';
import { renderManager } from '../generator/render-manager.ts';
import { renderFeatures } from '../generator/render-features.ts';
import { renderSystemd } from '../generator/render-systemd.ts';
import { sampleHost, samplePolicy, sampleUser } from '../test/generator/snom-sample-policy.ts';

const USERS = 10_000;
const RUNS = 5;

const users = Array.from({ length: USERS }, (_, i) =>
  sampleUser(`u${i}`, {
    ext: String(1000 + i),
    phones: [{ mac: `000413${i.toString(16).padStart(6, '0')}`, model: i % 4 === 0 ? '370' : 'D785' }],
    mayRecordManually: i % 3 === 0,
  }),
);
const input = { ruleSet: undefined as never, policy: samplePolicy({ users }), host: sampleHost({}) };

for (const [name, render] of Object.entries({ renderSnom, renderCron, renderManager, renderFeatures, renderSystemd })) {
  render(input); // warm-up: template loading, JIT
  const times: number[] = [];
  let files = 0;
  let bytes = 0;
  for (let run = 0; run < RUNS; run++) {
    const start = performance.now();
    const out = render(input);
    times.push(performance.now() - start);
    files = out.length;
    bytes = out.reduce((sum, f) => sum + Buffer.byteLength(f.content), 0);
  }
  times.sort((a, b) => a - b);
  console.log(`${name.padEnd(15)} ${String(files).padStart(6)} files ${(bytes / 1e6).toFixed(2).padStart(6)} MB  median ${times[RUNS >> 1]!.toFixed(1)} ms (min ${times[0]!.toFixed(1)}, max ${times[RUNS - 1]!.toFixed(1)})`);
}
