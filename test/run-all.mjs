#!/usr/bin/env node
// Runs every test/**/*.test.ts in its own process (a hung server or crash stays contained),
// then prints the closing line CI reads: "N passed, N failed". uvu prints no such line itself.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const filter = process.argv[2] ? new RegExp(process.argv[2]) : null;
const perFileTimeoutMs = Number(process.env.TEST_TIMEOUT_MS ?? 15 * 60_000);
const concurrency = Number(process.env.TEST_CONCURRENCY ?? 2);

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'fixtures' ? [] : find(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

const files = find(join(root, 'test'))
  .map((f) => relative(root, f))
  .filter((f) => !filter || filter.test(f))
  .sort();

function runFile(file) {
  return new Promise((done) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      out += `\n[run-all] ${file} timed out after ${perFileTimeoutMs / 1000}s\n`;
      child.kill('SIGKILL');
    }, perFileTimeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? 0);
      const passed = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? 0);
      const skipped = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
      let failed = total - passed - skipped;
      // A crash, a timeout or a non-zero exit without failed tests still fails the file.
      if (code !== 0 && failed === 0) failed = 1;
      done({ file, out, passed, failed, skipped, seconds: (Date.now() - started) / 1000 });
    });
  });
}

const queue = [...files];
const results = [];
await Promise.all(
  Array.from({ length: Math.min(concurrency, files.length) }, async () => {
    while (queue.length) {
      const r = await runFile(queue.shift());
      results.push(r);
      process.stdout.write(`\n=== ${r.file} (${r.seconds.toFixed(1)}s): ${r.passed} passed, ${r.failed} failed\n${r.out}`);
    }
  }),
);

const passed = results.reduce((n, r) => n + r.passed, 0);
const failed = results.reduce((n, r) => n + r.failed, 0);
const skipped = results.reduce((n, r) => n + r.skipped, 0);
for (const r of results.filter((r) => r.failed)) console.log(`FAILED: ${r.file}`);
if (files.length === 0) console.log('no test files found');
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed > 0 || files.length === 0 ? 1 : 0;
