// Every file `mitschnitt build` writes for the bundled rules, compared with test/fixtures/golden/<host>/….
// After an intended change to any renderer, regenerate and review the diff:
//   UPDATE_GOLDEN=1 node --import tsx test/generator/build-golden.test.ts
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from '../../generator/build.ts';
import { BUNDLED_RULES } from '../../bin/cli-support.ts';

const GOLDEN = fileURLToPath(new URL('../fixtures/golden', import.meta.url));
const update = process.env.UPDATE_GOLDEN === '1';

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(dir, path));
    }
  };
  walk(dir);
  return out.sort();
}

const tmp = mkdtempSync(join(tmpdir(), 'mitschnitt-golden-'));
// A copy outside any git repository, so the manifests name no commit and the goldens stay stable.
const rules = join(tmp, 'rules');
cpSync(BUNDLED_RULES, rules, { recursive: true });
const out = join(tmp, 'out');
const result = await build({ rulesDir: rules, outDir: out });
if (!result.ok) throw new Error(`bundled rules do not build: ${JSON.stringify(result.errors)}`);
const built = files(out);

if (update) {
  rmSync(GOLDEN, { recursive: true, force: true });
  for (const path of built) {
    mkdirSync(dirname(join(GOLDEN, path)), { recursive: true });
    writeFileSync(join(GOLDEN, path), readFileSync(join(out, path)));
    chmodSync(join(GOLDEN, path), statSync(join(out, path)).mode & 0o777);
  }
  console.log(`golden files rewritten: ${built.length} files in ${relative(process.cwd(), GOLDEN)}`);
}

test('build writes exactly the golden set of files for the bundled rules', () => {
  assert.equal(built, files(GOLDEN), 'a file was added or removed: rerun with UPDATE_GOLDEN=1 if intended');
});

for (const path of built) {
  test(`golden: ${path}`, () => {
    const golden = join(GOLDEN, path);
    assert.ok(existsSync(golden), `no golden file ${path}: rerun with UPDATE_GOLDEN=1 if intended`);
    assert.fixture(readFileSync(join(out, path), 'utf8'), readFileSync(golden, 'utf8'), `${path} differs from its golden copy: if the change is intended, run UPDATE_GOLDEN=1 node --import tsx test/generator/build-golden.test.ts and commit test/fixtures/golden`);
    assert.is(statSync(join(out, path)).mode & 0o777, statSync(golden).mode & 0o777, `mode of ${path}`);
  });
}

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
