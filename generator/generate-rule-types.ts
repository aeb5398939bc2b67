// Regenerates generator/rule-files.generated.ts from schema/ (`npm run types`); a test fails when it is stale.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderRuleFileTypes } from './rule-file-types.ts';

const target = fileURLToPath(new URL('./rule-files.generated.ts', import.meta.url));
writeFileSync(target, await renderRuleFileTypes());
console.log(`wrote ${target}`);
