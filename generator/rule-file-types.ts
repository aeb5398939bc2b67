import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
// Type only: the compiler (a devDependency) is loaded by renderRuleFileTypes alone, so the installed program
// (`npm ci --omit=dev`, the Debian package) runs without it.
import type { JSONSchema } from 'json-schema-to-typescript';

export const SCHEMA_DIR = fileURLToPath(new URL('../schema', import.meta.url));

/** The rule files, each with its schema; `optional` files may be absent from a rules folder. */
export const RULE_FILES = [
  { file: 'settings.json', schema: 'settings.schema.json', type: 'SettingsFile', optional: true },
  { file: 'hosts.json', schema: 'hosts.schema.json', type: 'HostsFile', optional: false },
  { file: 'users.json', schema: 'users.schema.json', type: 'UsersFile', optional: false },
  { file: 'teams.json', schema: 'teams.schema.json', type: 'TeamsFile', optional: true },
  { file: 'roles.json', schema: 'roles.schema.json', type: 'RolesFile', optional: false },
  { file: 'rules.json', schema: 'rules.schema.json', type: 'RulesFile', optional: false },
] as const;

export function readSchema(name: string): JSONSchema {
  return JSON.parse(readFileSync(`${SCHEMA_DIR}/${name}`, 'utf8')) as JSONSchema;
}

/** TypeScript types of the rule files, derived from the schemas so the two never drift. */
export async function renderRuleFileTypes(): Promise<string> {
  const { compile } = await import('json-schema-to-typescript');
  const parts = ['// Generated from schema/ by `npm run types`. Do not edit.\n'];
  for (const { schema, type } of RULE_FILES) {
    const json = { ...readSchema(schema), title: type };
    parts.push(
      await compile(json, type, {
        bannerComment: '',
        cwd: SCHEMA_DIR,
        additionalProperties: false,
        declareExternallyReferenced: false,
        format: false,
        style: { singleQuote: true },
      }),
    );
  }
  return parts.join('\n');
}
