import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { findNodeAtLocation, type Node } from 'jsonc-parser';
import { RULE_FILES, readSchema } from './rule-file-types.ts';
import { jsonPointer, positionOf, printable, type RuleError } from './rule-error.ts';
import type { LoadedFile } from './load-rule-files.ts';

let validators: Map<string, ValidateFunction> | undefined;

function compileValidators(): Map<string, ValidateFunction> {
  // useDefaults fills in the documented defaults, so later stages see complete objects.
  const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true, allowMatchingProperties: true });
  addFormats.default(ajv);
  ajv.addSchema(readSchema('common.schema.json'), 'common.schema.json');
  const map = new Map<string, ValidateFunction>();
  for (const { file, schema } of RULE_FILES) map.set(file, ajv.compile(readSchema(schema)));
  return map;
}

/** A value as JSON, cut short, with invisible and direction-changing characters escaped so a message prints as it reads. */
function shown(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return printable(json.length > 60 ? `${json.slice(0, 59)}…` : json);
}

/** Validates each loaded file against its schema (filling defaults in place) and locates every error. */
export function checkSchemas(files: Iterable<LoadedFile>): RuleError[] {
  validators ??= compileValidators();
  const errors: RuleError[] = [];
  for (const loaded of files) {
    const validate = validators.get(loaded.file);
    if (!validate || validate(loaded.data)) continue;
    // A value failing both `pattern` and `format` (e-mail, IPv4) would otherwise be reported twice alike.
    const seen = new Set<string>();
    for (const err of reduceErrors(validate.errors ?? [])) {
      const located = locate(loaded, err);
      const key = `${located.pointer}|${located.message}`;
      if (!seen.has(key)) errors.push(located);
      seen.add(key);
    }
  }
  return errors;
}

/** `enum`/`const` alternatives of one place produce one error each under allErrors; keep the clearest one per place. */
function reduceErrors(errors: ErrorObject[]): ErrorObject[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.instancePath}|${e.keyword}|${JSON.stringify(e.params)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function pathOf(instancePath: string): (string | number)[] {
  if (!instancePath) return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function locate(loaded: LoadedFile, err: ErrorObject): RuleError {
  const path = pathOf(err.instancePath);
  let target: Node | undefined = loaded.tree ? findNodeAtLocation(loaded.tree, path) : undefined;
  let pointerPath = path;
  if (err.keyword === 'additionalProperties') {
    const extra = (err.params as { additionalProperty: string }).additionalProperty;
    pointerPath = [...path, extra];
    const valueNode = loaded.tree ? findNodeAtLocation(loaded.tree, pointerPath) : undefined;
    target = valueNode?.parent?.children?.[0] ?? target;
  }
  const offset = target?.offset ?? 0;
  return {
    file: loaded.file,
    ...positionOf(loaded.text, offset),
    pointer: jsonPointer(pointerPath),
    ...describe(err, loaded.file),
  };
}

function describe(err: ErrorObject, file: string): { message: string; hint: string } {
  const schema = (err.parentSchema ?? {}) as { description?: string; properties?: Record<string, unknown> };
  const got = err.data === undefined ? '' : ` (got ${shown(err.data)})`;
  const params = err.params as Record<string, unknown>;
  const hint = schema.description ?? `See schema/${file.replace(/\.json$/, '.schema.json')} for what is allowed here.`;
  switch (err.keyword) {
    case 'required':
      return { message: `missing required property "${String(params.missingProperty)}"`, hint: `Add "${String(params.missingProperty)}".` };
    case 'additionalProperties': {
      const allowed = Object.keys(schema.properties ?? {}).filter((k) => k !== '$schema');
      return { message: `unknown property ${shown(params.additionalProperty)}`, hint: `Check the spelling; allowed here: ${allowed.join(', ')}.` };
    }
    case 'enum':
      return { message: `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}${got}`, hint };
    case 'pattern':
    case 'format':
      return { message: `invalid value${got}`, hint };
    case 'type':
      return { message: `must be ${String(params.type)}${got}`, hint };
    default:
      return { message: `${err.message ?? 'invalid'}${got}`, hint };
  }
}
