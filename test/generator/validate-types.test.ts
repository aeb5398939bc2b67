import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { renderRuleFileTypes } from '../../generator/rule-file-types.ts';

test('generator/rule-files.generated.ts is what the schemas generate (run `npm run types` after a schema change)', async () => {
  const committed = readFileSync(new URL('../../generator/rule-files.generated.ts', import.meta.url), 'utf8');
  assert.fixture(committed, await renderRuleFileTypes());
});

test.run();
