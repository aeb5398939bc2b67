// Property: whatever happens to the rule files, validate returns a verdict (valid, or errors a person can act
// on) and never throws; the CLI exits 0 or 1 and never shows a stack trace. Seeded, so a failure reproduces.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateRules } from '../../generator/validate.ts';
import { RULE_FILES } from '../../generator/rule-file-types.ts';
import { formatRuleError, type RuleError } from '../../generator/rule-error.ts';
import { materializeRules } from './materialize-rules.ts';
import { prng } from '../support/prng.ts';

const SEED = Number(process.env.PROPERTY_SEED ?? 20261125);
const ITERATIONS = Number(process.env.PROPERTY_ITERATIONS ?? 600);
const FILES: string[] = RULE_FILES.map((f) => f.file);

/** The seeded PRNG with the two helpers the mutations use. */
function rng(seed: number) {
  const next = prng(seed);
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof rng>;

const ODD_STRINGS = ['', ' ', '\n', '\u0000', '\u001b[0m', '\u2028', '\u202e', '😀', 'Ω≈ç√', '../../etc/passwd', '${EXTEN}', '$[1]', '`id`', "'", '"', '%', ';', ',', ')', '<x>', 'a'.repeat(5000), 'anna', 'sales', 'pbx-berlin', '201', '0 20 * * *', 'scripts/archive-to-dms.sh', '00:04:13:2a:3b:01', '__proto__', 'constructor'];
const ODD_NUMBERS = [0, -1, 1, 5, 22, 65535, 65536, 1.5, 2 ** 53 + 1, 1e308, -1e308, Number.MAX_SAFE_INTEGER];

function randomString(r: Rng): string {
  if (r.next() < 0.5) return r.pick(ODD_STRINGS);
  const length = r.int(12);
  let s = '';
  for (let i = 0; i < length; i++) {
    const band = r.pick([0x20, 0x00, 0x61, 0x80, 0x2000, 0xd800, 0x1f600]);
    s += String.fromCodePoint(band === 0xd800 ? 0xd800 + r.int(0x400) : band + r.int(band === 0x00 ? 0x20 : 0x60));
  }
  return s;
}

function randomValue(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 2 ? 4 : 6)) {
    case 0: return randomString(r);
    case 1: return r.pick(ODD_NUMBERS);
    case 2: return r.pick([true, false, null]);
    case 3: return r.int(2) ? 'x' : 7;
    case 4: return Array.from({ length: r.int(3) }, () => randomValue(r, depth + 1));
    default: return Object.fromEntries(Array.from({ length: r.int(3) }, () => [randomString(r), randomValue(r, depth + 1)]));
  }
}

/** Every container (object or array) in a JSON value, with the way to its parent. */
function containers(value: unknown, found: (Record<string, unknown> | unknown[])[] = []): (Record<string, unknown> | unknown[])[] {
  if (value !== null && typeof value === 'object') {
    found.push(value as Record<string, unknown>);
    for (const child of Object.values(value)) containers(child, found);
  }
  return found;
}

const STRUCTURAL: ((r: Rng, c: Record<string, unknown> | unknown[]) => void)[] = [
  // delete a key or an array item
  (r, c) => (Array.isArray(c) ? c.splice(r.int(c.length + 1), 1) : delete c[r.pick([...Object.keys(c), 'x'])]),
  // change a value's type or content
  (r, c) => {
    const keys = Object.keys(c);
    if (keys.length) (c as Record<string, unknown>)[r.pick(keys)] = randomValue(r);
  },
  // swap two values of the same container
  (r, c) => {
    const keys = Object.keys(c);
    if (keys.length < 2) return;
    const [a, b] = [r.pick(keys), r.pick(keys)];
    const o = c as Record<string, unknown>;
    [o[a], o[b]] = [o[b], o[a]];
  },
  // duplicate an array item
  (r, c) => {
    if (Array.isArray(c) && c.length) c.splice(r.int(c.length), 0, structuredClone(c[r.int(c.length)]));
  },
  // add an unknown or hostile key
  (r, c) => {
    if (!Array.isArray(c)) Object.defineProperty(c, r.pick(['__proto__', 'constructor', 'extra', randomString(r)]), { value: randomValue(r), enumerable: true, writable: true, configurable: true });
  },
];

const TEXTUAL: ((r: Rng, text: string) => string)[] = [
  (r, t) => t.slice(0, r.int(t.length)), // truncate
  (r, t) => {
    const i = r.int(t.length);
    return t.slice(0, i) + r.pick(['{', '}', '[', ']', ',', ':', '"', '\\', '\n', '\u0000', '//', '/*', 'NaN', '1e400', '-', '\uFEFF', '\u00ff']) + t.slice(i + 1);
  }, // garble one character
  (r, t) => t.replace(/[0-9]+/, () => r.pick(['1e400', '99999999999999999999999', '-0', '0x10', '.5', '1.'])), // odd numbers
  () => '', // empty file
  (r, t) => '['.repeat(r.int(3) ? 40 : 5000) + t, // runaway nesting
];

/** Rewrites some rule files of `dir` from the originals with random mutations; returns a description. */
function mutate(r: Rng, dir: string, originals: Map<string, string>): string {
  const done: string[] = [];
  for (const [file, text] of originals) writeFileSync(join(dir, file), text);
  for (let n = 1 + r.int(3); n > 0; n--) {
    const file = r.pick(FILES);
    const path = join(dir, file);
    const text = readFileSync(path, 'utf8');
    if (r.next() < 0.25) {
      const m = r.int(TEXTUAL.length);
      writeFileSync(path, TEXTUAL[m]!(r, text));
      done.push(`${file}: text mutation ${m}`);
      continue;
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      continue;
    }
    const all = containers(data);
    for (let k = 1 + r.int(3); k > 0 && all.length; k--) {
      const m = r.int(STRUCTURAL.length);
      STRUCTURAL[m]!(r, r.pick(all));
      done.push(`${file}: structural mutation ${m}`);
    }
    if (r.next() < 0.1) data = randomValue(r);
    writeFileSync(path, JSON.stringify(data, null, r.int(3)) ?? 'undefined');
  }
  return done.join('; ');
}

function assertActionable(e: RuleError, context: string) {
  const where = `${context}: ${JSON.stringify(e)}`;
  assert.ok([...FILES, '.'].includes(e.file), where);
  assert.ok(Number.isInteger(e.line) && e.line >= 1 && Number.isInteger(e.column) && e.column >= 1, where);
  assert.ok(e.pointer === '' || e.pointer.startsWith('/'), where);
  assert.ok(e.message.trim().length > 0 && (e.hint ?? '').trim().length > 0, where);
  // What a terminal shows carries no control or direction-changing characters, whatever the files held.
  assert.not.match(formatRuleError(e, 'rules').replace('\n    fix: ', ' '), /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/, where);
}

const rules = materializeRules({});
const originals = new Map(FILES.map((f) => [f, readFileSync(join(rules.dir, f), 'utf8')]));

test(`${ITERATIONS} random mutations of the bundled rules never make validate throw (seed ${SEED})`, () => {
  const r = rng(SEED);
  let valid = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const what = mutate(r, rules.dir, originals);
    const context = `iteration ${i} (${what})`;
    let result;
    try {
      result = validateRules(rules.dir);
    } catch (err) {
      assert.unreachable(`${context}: validate threw ${(err as Error).stack}`);
      return;
    }
    if (result.ok) valid++;
    else assert.ok(result.errors.length > 0, `${context}: invalid without errors`);
    for (const e of [...result.errors, ...result.warnings]) assertActionable(e, context);
  }
  // Guards against a generator that only ever produces garbage (or nothing at all).
  assert.ok(valid > 0 && valid < ITERATIONS, `valid in ${valid} of ${ITERATIONS}`);
});

test('through the CLI, mutated rules exit 0 or 1 with JSON output and no stack trace', () => {
  const r = rng(SEED + 1);
  const root = fileURLToPath(new URL('../..', import.meta.url));
  for (let i = 0; i < 6; i++) {
    const what = mutate(r, rules.dir, originals);
    const run = spawnSync(process.execPath, ['bin/mitschnitt.js', 'validate', '--rules', rules.dir, '--json'], { cwd: root, encoding: 'utf8' });
    assert.ok(run.status === 0 || run.status === 1, `${what}: exit ${run.status} ${run.stderr}`);
    assert.not.match(run.stderr, /\n\s+at .+:\d+:\d+/);
    const out = JSON.parse(run.stdout) as { valid: boolean; errors: RuleError[] };
    assert.is(out.valid, run.status === 0);
    for (const e of out.errors) assertActionable(e, what);
  }
});

test.after(() => rules.cleanup());
test.run();
