// Every folder in test/fixtures/invalid/ is an invalid rule set (a small delta over the bundled rules)
// with the errors it must produce: file, place and message fragment.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { validateRules } from '../../generator/validate.ts';
import type { RuleError } from '../../generator/rule-error.ts';
import { materializeRules, type RulesDelta } from './materialize-rules.ts';

interface Expected {
  file: string;
  line?: number;
  column?: number;
  pointer?: string;
  message: string;
}
interface Case extends RulesDelta {
  description: string;
  expect: Expected[];
}

const CORPUS = fileURLToPath(new URL('../fixtures/invalid', import.meta.url));
const names = readdirSync(CORPUS).sort();

const matches = (a: RuleError, e: Expected) =>
  a.file === e.file &&
  (e.line === undefined || a.line === e.line) &&
  (e.column === undefined || a.column === e.column) &&
  (e.pointer === undefined || a.pointer === e.pointer) &&
  a.message.includes(e.message);

test('the corpus holds at least 60 invalid rule sets', () => {
  assert.ok(names.length >= 60, `only ${names.length} cases`);
});

for (const name of names) {
  const c = JSON.parse(readFileSync(join(CORPUS, name, 'case.json'), 'utf8')) as Case;
  test(`${name}: ${c.description}`, () => {
    const rules = materializeRules(c);
    try {
      const result = validateRules(rules.dir);
      const shown = JSON.stringify(result.errors, null, 1);
      assert.is(result.ok, false, 'the rule set must be invalid');
      for (const e of c.expect) assert.ok(result.errors.some((a) => matches(a, e)), `expected ${JSON.stringify(e)} among ${shown}`);
      for (const a of result.errors) {
        // Nothing else may be reported: a mistake is reported where it is, not as a cascade elsewhere.
        assert.ok(c.expect.some((e) => a.file === e.file && (e.pointer === undefined || a.pointer === e.pointer)), `unexpected ${JSON.stringify(a)}`);
        assert.ok(a.line >= 1 && a.column >= 1, `position of ${JSON.stringify(a)}`);
        assert.ok(a.message.length > 0 && (a.hint ?? '').length > 0, `message and hint of ${JSON.stringify(a)}`);
      }
    } finally {
      rules.cleanup();
    }
  });
}

test.run();
