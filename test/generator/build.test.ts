import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { simpleGit } from 'simple-git';
import { build } from '../../generator/build.ts';
import { renderers, type Renderer } from '../../generator/render-host-files.ts';
import type { Manifest } from '../../generator/manifest.ts';
import { BUNDLED_RULES } from '../../bin/cli-support.ts';
import { runCli } from '../fixtures/build/run-cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'mitschnitt-build-'));
let n = 0;
const fresh = (name: string) => join(tmp, `${name}-${++n}`);

/** A copy of the bundled rules outside any git repository. */
function rulesCopy(): string {
  const dir = fresh('rules');
  cpSync(BUNDLED_RULES, dir, { recursive: true });
  return dir;
}

/** Every file under dir → its bytes, keyed by relative path. */
function tree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.set(relative(dir, path), readFileSync(path));
    }
  };
  walk(dir);
  return out;
}

async function mustBuild(rulesDir: string, outDir: string) {
  const result = await build({ rulesDir, outDir });
  if (!result.ok) throw new Error(`build failed: ${JSON.stringify(result.errors)}`);
  return result.summary;
}

/** Runs fn with an extra renderer registered, removing it afterwards whatever happens. */
async function withRenderer<T>(renderer: Renderer, fn: () => Promise<T>): Promise<T> {
  renderers.push(renderer);
  try {
    return await fn();
  } finally {
    renderers.splice(renderers.indexOf(renderer), 1);
  }
}

test('build writes policy.json, the used scripts (0755) and a manifest per host', async () => {
  const out = fresh('out');
  const summary = await mustBuild(rulesCopy(), out);
  assert.equal(summary.hosts.map((h) => h.host), ['pbx-berlin', 'pbx-hamburg']);
  assert.equal(readdirSync(out).sort(), ['pbx-berlin', 'pbx-hamburg']);
  for (const host of ['pbx-berlin', 'pbx-hamburg']) {
    const policy = JSON.parse(readFileSync(join(out, host, 'policy.json'), 'utf8'));
    assert.is(policy.host, host);
    assert.is(statSync(join(out, host, 'scripts/archive-to-dms.sh')).mode & 0o777, 0o755);
    assert.is(statSync(join(out, host, 'policy.json')).mode & 0o777, 0o644);
  }
  assert.is(summary.users, 6);
  assert.is(summary.activeRules, 2);
  assert.is(summary.files, [...tree(out).keys()].length);
  assert.is(summary.bytes, [...tree(out).values()].reduce((s, b) => s + b.length, 0));
});

test('manifest: every other file with the sha256, size and mode of its bytes on disk; not itself', async () => {
  const out = fresh('out');
  await mustBuild(rulesCopy(), out);
  for (const host of ['pbx-berlin', 'pbx-hamburg']) {
    const manifest = JSON.parse(readFileSync(join(out, host, 'manifest.json'), 'utf8')) as Manifest;
    assert.equal(Object.keys(manifest).sort(), ['commit', 'dirty', 'files', 'host']);
    assert.is(manifest.host, host);
    assert.is(manifest.commit, null);
    assert.is(manifest.dirty, false);
    const onDisk = [...tree(join(out, host)).keys()].filter((p) => p !== 'manifest.json').sort();
    assert.equal(Object.keys(manifest.files), onDisk);
    for (const [path, entry] of Object.entries(manifest.files)) {
      const bytes = readFileSync(join(out, host, path));
      assert.is(entry.sha256, createHash('sha256').update(bytes).digest('hex'), path);
      assert.is(entry.size, bytes.length, path);
      assert.is(entry.mode, `0${(statSync(join(out, host, path)).mode & 0o777).toString(8)}`, path);
    }
  }
});

test('two builds of the same rules are byte-identical, wherever the rules and the output live', async () => {
  const a = fresh('out');
  const b = fresh('out');
  await mustBuild(rulesCopy(), a);
  await mustBuild(rulesCopy(), b);
  const ta = tree(a);
  const tb = tree(b);
  assert.equal([...tb.keys()], [...ta.keys()]);
  for (const [path, bytes] of ta) assert.ok(bytes.equals(tb.get(path)!), path);
});

test('the key order someone writes in settings.json does not change a byte of the output', async () => {
  const rules = rulesCopy();
  const a = fresh('out');
  await mustBuild(rules, a);
  const settings = JSON.parse(readFileSync(join(rules, 'settings.json'), 'utf8')) as Record<string, unknown>;
  const reversed = Object.fromEntries(Object.entries(settings).reverse());
  writeFileSync(join(rules, 'settings.json'), JSON.stringify(reversed, null, 4));
  const b = fresh('out');
  await mustBuild(rules, b);
  assert.equal(tree(b), tree(a));
});

test('validate warnings are passed on, printed as warnings, and do not stop the build', async () => {
  const rules = rulesCopy();
  const roles = JSON.parse(readFileSync(join(rules, 'roles.json'), 'utf8'));
  roles.roles.push({ id: 'nobody', name: 'Nobody', members: [] });
  writeFileSync(join(rules, 'roles.json'), JSON.stringify(roles));
  const out = fresh('out');
  const result = await build({ rulesDir: rules, outDir: out });
  assert.ok(result.ok);
  assert.ok(result.warnings.some((w) => /role "nobody" has no members/.test(w.message)));
  const cli = await runCli('build', '--rules', rules, '--out', out);
  assert.is(cli.status, 0);
  assert.match(cli.stderr, /^warning: .*roles\.json:\d+:\d+.*role "nobody" has no members/m);
  const json = JSON.parse((await runCli('build', '--rules', rules, '--out', out, '--json')).stdout);
  assert.ok(json.warnings.length > 0);
});

test('rebuilding replaces the whole output: a host removed from the rules disappears', async () => {
  const rules = rulesCopy();
  const out = fresh('out');
  await mustBuild(rules, out);
  const hosts = JSON.parse(readFileSync(join(rules, 'hosts.json'), 'utf8'));
  hosts.hosts = hosts.hosts.slice(0, 1);
  const users = JSON.parse(readFileSync(join(rules, 'users.json'), 'utf8'));
  for (const u of users.users) delete u.host;
  writeFileSync(join(rules, 'hosts.json'), JSON.stringify(hosts));
  writeFileSync(join(rules, 'users.json'), JSON.stringify(users));
  await mustBuild(rules, out);
  assert.equal(readdirSync(out), ['pbx-berlin']);
  assert.equal(readdirSync(tmp).filter((f) => f.startsWith('.')), [], 'no staging folders left');
});

test('a renderer that throws leaves the previous output untouched and no staging folder behind', async () => {
  const rules = rulesCopy();
  const out = fresh('out');
  await mustBuild(rules, out);
  const before = tree(out);
  writeFileSync(join(rules, 'settings.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(rules, 'settings.json'), 'utf8')), retentionDays: 7 }));
  await withRenderer(({ host }) => {
    if (host.name === 'pbx-hamburg') throw new Error('renderer broke');
    return [];
  }, async () => {
    try {
      await build({ rulesDir: rules, outDir: out });
      assert.unreachable('build should fail');
    } catch (err) {
      assert.instance(err, Error);
      assert.is((err as Error).message, 'renderer broke');
    }
  });
  assert.equal(tree(out), before);
  assert.equal(readdirSync(tmp).filter((f) => f.startsWith('.')), []);
});

test('a failure while writing (mid-way, after files were written) leaves the previous output untouched', async () => {
  const rules = rulesCopy();
  const out = fresh('out');
  await mustBuild(rules, out);
  const before = tree(out);
  // 'x' as a file and then 'x/y' cannot both exist: the write fails after earlier files are on disk.
  await withRenderer(() => [{ path: 'x', content: 'file' }, { path: 'x/y', content: 'child' }], async () => {
    try {
      await build({ rulesDir: rules, outDir: out });
      assert.unreachable('build should fail');
    } catch (err) {
      assert.match((err as NodeJS.ErrnoException).code ?? '', /ENOTDIR|EEXIST/);
    }
  });
  assert.equal(tree(out), before);
  assert.equal(readdirSync(tmp).filter((f) => f.startsWith('.')), []);
});

test('a generated path that leaves the host folder is refused before anything is replaced', async () => {
  const out = fresh('out');
  for (const path of ['../escape', '/etc/passwd', 'a/../../b', './a']) {
    await withRenderer(() => [{ path, content: 'x' }], async () => {
      try {
        await build({ rulesDir: rulesCopy(), outDir: out });
        assert.unreachable(path);
      } catch (err) {
        assert.match((err as Error).message, /not a plain relative path/, path);
      }
    });
  }
  assert.not.ok(existsSync(out));
  assert.not.ok(existsSync(join(tmp, 'escape')));
});

test('invalid rules: errors returned and nothing written', async () => {
  const rules = rulesCopy();
  writeFileSync(join(rules, 'rules.json'), '{ "rules": [ { "id": "x" } ] }');
  const out = fresh('out');
  const result = await build({ rulesDir: rules, outDir: out });
  assert.is(result.ok, false);
  if (!result.ok) assert.ok(result.errors.length > 0);
  assert.not.ok(existsSync(out));
});

test('an output folder holding foreign files is not replaced', async () => {
  const out = fresh('out');
  mkdirSync(out);
  writeFileSync(join(out, 'thesis.tex'), 'precious');
  await assertRejects(build({ rulesDir: rulesCopy(), outDir: out }), /refusing to replace .*thesis\.tex/);
  assert.is(readFileSync(join(out, 'thesis.tex'), 'utf8'), 'precious');
  mkdirSync(join(out, 'pbx-berlin-old'));
  rmSync(join(out, 'thesis.tex'));
  await assertRejects(build({ rulesDir: rulesCopy(), outDir: out }), /pbx-berlin-old/);
});

test('git: the commit and dirty flag of the rules folder go into every manifest', async () => {
  const repo = fresh('repo');
  cpSync(BUNDLED_RULES, join(repo, 'rules'), { recursive: true });
  writeFileSync(join(repo, 'README'), 'other things');
  const git = simpleGit(repo);
  await git.init();
  await git.addConfig('user.name', 'Test');
  await git.addConfig('user.email', 'test@example.com');
  const rules = join(repo, 'rules');
  const out = fresh('out');
  const manifest = () => JSON.parse(readFileSync(join(out, 'pbx-berlin', 'manifest.json'), 'utf8')) as Manifest;

  await mustBuild(rules, out);
  assert.equal([manifest().commit, manifest().dirty], [null, true], 'no commit yet');

  await git.add('.');
  await git.commit('rules');
  const head = (await git.revparse(['HEAD'])).trim();
  await mustBuild(rules, out);
  assert.equal([manifest().commit, manifest().dirty], [head, false]);

  writeFileSync(join(repo, 'README'), 'changed outside the rules folder');
  await mustBuild(rules, out);
  assert.is(manifest().dirty, false, 'changes outside the rules folder do not count');

  writeFileSync(join(rules, 'scripts', 'new.sh'), '#!/bin/sh\n');
  await mustBuild(rules, out);
  assert.is(manifest().dirty, true, 'an untracked file in the rules folder counts');
  rmSync(join(rules, 'scripts', 'new.sh'));

  const users = readFileSync(join(rules, 'users.json'), 'utf8');
  writeFileSync(join(rules, 'users.json'), users.replace('Anna Berger', 'Anna Berger-Lang'));
  const summary = await mustBuild(rules, out);
  assert.equal([manifest().commit, manifest().dirty, summary.commit, summary.dirty], [head, true, head, true]);
});

test('the CLI: summary line, --json, exit 1 on invalid rules, exit 2 on usage errors', async () => {
  const out = fresh('out');
  const ok = spawnSync(process.execPath, ['bin/mitschnitt.js', 'build', '--rules', rulesCopy(), '--out', out], { encoding: 'utf8' });
  assert.is(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /2 hosts, 6 users, 2 teams, 2 active rules of 3, \d+ files, \d+ bytes/);
  assert.match(ok.stdout, /pbx-berlin: \d+ files/);

  const json = await runCli('build', '--rules', rulesCopy(), '--out', out, '--json');
  assert.is(json.status, 0, json.stderr);
  const parsed = JSON.parse(json.stdout);
  assert.is(parsed.built, true);
  assert.equal(parsed.hosts.map((h: { host: string }) => h.host), ['pbx-berlin', 'pbx-hamburg']);

  const rules = rulesCopy();
  writeFileSync(join(rules, 'roles.json'), '{ "roles": [] ');
  const bad = await runCli('build', '--rules', rules, '--out', fresh('out'));
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /roles\.json:\d+:\d+.*JSON syntax error/);
  assert.match(bad.stderr, /nothing was written/);
  assert.not.match(bad.stderr, /    at /, 'no stack trace');

  const foreign = fresh('out');
  mkdirSync(foreign);
  writeFileSync(join(foreign, 'keep.txt'), 'x');
  const refused = await runCli('build', '--rules', rulesCopy(), '--out', foreign);
  assert.is(refused.status, 1);
  assert.match(refused.stderr, /refusing to replace/);

  const file = fresh('plain-file');
  writeFileSync(file, 'not a folder');
  const unwritable = await runCli('build', '--rules', rulesCopy(), '--out', join(file, 'out'));
  assert.is(unwritable.status, 1);
  assert.match(unwritable.stderr, /cannot write .*plain-file-\d+\/out: E[A-Z]+.*nothing was changed/);

  const usage = await runCli('build', '--bogus');
  assert.is(usage.status, 2);
});

async function assertRejects(promise: Promise<unknown>, message: RegExp): Promise<void> {
  try {
    await promise;
  } catch (err) {
    assert.match((err as Error).message, message);
    return;
  }
  assert.unreachable(`expected a rejection matching ${message}`);
}

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
