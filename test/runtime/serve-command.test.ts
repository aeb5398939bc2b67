import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BEN, RuntimeEnv, get } from './runtime-env.ts';

const BIN = fileURLToPath(new URL('../../bin/mitschnitt.js', import.meta.url));

/** Children still running when the file ends are killed, so a failing test never leaves a server behind. */
const children = new Set<ReturnType<typeof spawn>>();
test.after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function run(args: string[]): { done: Promise<number | null>; out: () => string; err: () => string; kill: (s: NodeJS.Signals) => void } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('close', () => children.delete(child));
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  return {
    done: new Promise((resolve) => child.on('close', (code) => resolve(code))),
    out: () => out,
    err: () => err,
    kill: (s) => child.kill(s),
  };
}

test('serve: a config folder without policy.json is exit 1 with one clear line; an unknown flag is exit 2', async () => {
  const bad = run(['serve', '--config', '/nonexistent/mitschnitt']);
  assert.is(await bad.done, 1);
  assert.match(bad.err(), /^mitschnitt serve: cannot read \/nonexistent\/mitschnitt\/policy\.json/);
  assert.not.match(bad.err(), /\n\s+at /, 'no stack trace');
  const usage = run(['serve', '--bogus']);
  assert.is(await usage.done, 2);
  assert.match(usage.err(), /Usage: mitschnitt serve/);
});

test('serve: a spool that is missing or not a folder is exit 1 naming the spool', async () => {
  const env = await RuntimeEnv.create();
  try {
    const policyPath = `${env.configDir}/policy.json`;
    const policy = JSON.parse(readFileSync(policyPath, 'utf8')) as { settings: { spool: string } };
    writeFileSync(`${env.dir}/a-file`, '');
    policy.settings.spool = `${env.dir}/a-file/spool`;
    writeFileSync(policyPath, JSON.stringify(policy));
    const p = run(['serve', '--config', env.configDir]);
    assert.is(await p.done, 1);
    assert.match(p.err(), /^mitschnitt serve: the spool \S+\/a-file\/spool is not writable for this user: ENOTDIR/);
  } finally {
    await env.dispose();
  }
});

test('serve: runs as a process, logs JSON lines, answers HTTP, and exits 0 on SIGTERM', async () => {
  const env = await RuntimeEnv.create();
  try {
    const p = run(['serve', '--config', env.configDir, '--listen', '127.0.0.1:0']);
    const started = async () => p.out().split('\n').find((l) => l.includes('"mitschnitt serve started"'));
    const until = Date.now() + 10_000;
    while (!(await started()) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    const line = JSON.parse((await started())!) as { level: string; http: string };
    assert.is(line.level, 'info');
    while (!p.out().includes('"AMI connected"') && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    const r = await get(`http://${line.http}/snom/record?mac=${encodeURIComponent(BEN.mac)}&callid=none`);
    assert.match(r.body, /Kein Gespräch gefunden/);
    p.kill('SIGTERM');
    assert.is(await p.done, 0);
    for (const l of p.out().split('\n').filter(Boolean)) assert.ok(JSON.parse(l).level, `JSON line with a level: ${l}`);
    assert.match(p.out(), /"mitschnitt serve stopped"/);
  } finally {
    await env.dispose();
  }
});

test('serve mounts the web client next to the SNOM key', async () => {
  const env = await RuntimeEnv.create();
  try {
    await env.start({ web: true });
    const page = await get(`${env.base}/`);
    assert.is(page.status, 200);
    assert.match(page.type ?? '', /text\/html/);
    assert.is((await get(`${env.base}/api/calls`)).status, 401, 'API behind sign-in');
  } finally {
    await env.dispose();
  }
});

test.run();
