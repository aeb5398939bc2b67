// Every folder in test/fixtures/invalid/ is an invalid rule set (a small delta over the bundled rules)
// with the errors it must produce: file, place and message fragment.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { findNodeAtLocation, parseTree } from 'jsonc-parser';
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

/** Where the value at a JSON pointer starts in a file (and its key, for errors about the property itself). */
function positionsOf(dir: string, e: RuleError): string[] {
  const text = readFileSync(join(dir, e.file), 'utf8');
  const path = e.pointer.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~')).map((k) => (/^\d+$/.test(k) ? Number(k) : k));
  const node = findNodeAtLocation(parseTree(text)!, path);
  const at = (offset: number) => {
    const before = text.slice(0, offset).split('\n');
    return `${before.length}:${before[before.length - 1]!.length + 1}`;
  };
  return node ? [at(node.offset), ...(node.parent?.type === 'property' ? [at(node.parent.offset)] : [])] : [];
}

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
        // line:column is where the value named by the pointer starts (or its key), so an editor jumps right to it.
        if (a.pointer) assert.ok(positionsOf(rules.dir, a).includes(`${a.line}:${a.column}`), `position of ${JSON.stringify(a)}: expected one of ${positionsOf(rules.dir, a).join(', ')}`);
        assert.ok(a.message.length > 0 && (a.hint ?? '').length > 0, `message and hint of ${JSON.stringify(a)}`);
      }
    } finally {
      rules.cleanup();
    }
  });
}

test.run();
