import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { readSchema } from './rule-file-types.ts';

/**
 * The shape of policy.json as the runtime commands read it: settings by the same schema as settings.json (with the
 * parts build always fills required), rules, users and numbers by what serve/deliver/expire/capacity/audit use.
 * A hand-edited or truncated-but-parsable policy then fails with its place named, not with a TypeError deep inside.
 */
const str = { type: 'string' };
const strings = { type: 'array', items: str };
const object = (required: string[], properties: Record<string, unknown> = {}) => ({ type: 'object', required, properties });
const cell = object(['decision'], { decision: { enum: ['auto', 'manual', 'none'] }, rule: str });
const cells = object(['internal', 'external'], { internal: cell, external: cell });

const POLICY_SCHEMA = object(['version', 'host', 'settings', 'numbers', 'rules', 'users'], {
  version: { const: 1 },
  host: str,
  settings: {
    allOf: [
      { $ref: 'settings.schema.json' },
      object(['spool', 'format', 'retentionDays', 'secretsDir', 'http', 'ami', 'delivery', 'recordKey'], {
        http: object(['listen']),
        ami: object(['host', 'port', 'user', 'secret']),
        delivery: object(['maxAttempts', 'scriptTimeoutSeconds']),
        recordKey: object(['index', 'label', 'featureCode']),
      }),
    ],
  },
  numbers: {
    type: 'object',
    additionalProperties: object(['kind', 'id', 'name', 'host', 'outbound', 'inbound'], { kind: { enum: ['user', 'team'] }, id: str, name: str, host: str, outbound: cells, inbound: cells }),
  },
  rules: {
    type: 'object',
    additionalProperties: object(['id', 'name', 'mode', 'retentionDays', 'deliver'], {
      id: str,
      name: str,
      mode: { enum: ['auto', 'manual'] },
      retentionDays: { type: 'integer', minimum: 1 },
      deliver: object([], { email: strings, script: str }),
    }),
  },
  users: {
    type: 'object',
    additionalProperties: object(['id', 'name', 'ext', 'host', 'phones', 'mayRecordManually', 'canViewUsers', 'canViewNumbers'], {
      id: str,
      name: str,
      ext: str,
      host: str,
      phones: { type: 'array', items: object(['mac', 'model'], { mac: str, model: str, ip: str }) },
      mayRecordManually: { type: 'boolean' },
      canViewUsers: strings,
      canViewNumbers: strings,
    }),
  },
});

let validate: ValidateFunction | undefined;

/** The first problems of a parsed policy.json, as `settings.ami.port must be integer`; empty when it has the shape. */
export function policyShapeErrors(data: unknown): string[] {
  if (!validate) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats.default(ajv);
    ajv.addSchema(readSchema('common.schema.json'), 'common.schema.json');
    ajv.addSchema(readSchema('settings.schema.json'), 'settings.schema.json');
    validate = ajv.compile(POLICY_SCHEMA);
  }
  if (validate(data)) return [];
  const messages = (validate.errors ?? []).map((e) => {
    const place = e.instancePath.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~')).join('.');
    return `${place || 'the policy'} ${e.message ?? 'is invalid'}`;
  });
  return [...new Set(messages)].slice(0, 3);
}
