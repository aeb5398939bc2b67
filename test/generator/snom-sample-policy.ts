// Hand-made policies for the renderer tests: small, readable, every setting at its schema default unless overridden.
import type { Policy, PolicyUser } from '../../generator/policy.ts';
import type { Host, Settings } from '../../generator/rule-set.ts';

export interface SampleOptions {
  secretsDir?: string;
  amiHost?: string;
  amiUser?: string;
  listen?: string;
  label?: string;
  index?: number;
  featureCode?: string;
  deliverySchedule?: string;
  retentionSchedule?: string;
  spool?: string;
  users?: PolicyUser[];
}

export function sampleUser(id: string, overrides: Partial<PolicyUser> = {}): PolicyUser {
  return { id, name: id, ext: '201', host: 'pbx-a', phones: [], mayRecordManually: false, canViewUsers: [], canViewNumbers: [], ...overrides };
}

export function samplePolicy(o: SampleOptions = {}): Policy {
  const settings: Settings = {
    spool: o.spool ?? '/var/spool/asterisk/mitschnitt',
    format: 'wav',
    retentionDays: 90,
    objection: 'discard',
    deliverySchedule: o.deliverySchedule ?? '0 20 * * *',
    retentionSchedule: o.retentionSchedule ?? '30 3 * * *',
    secretsDir: o.secretsDir ?? '/etc/mitschnitt/secrets',
    http: { listen: o.listen ?? '0.0.0.0:8484', tls: false },
    ami: { host: o.amiHost ?? '127.0.0.1', port: 5038, user: o.amiUser ?? 'mitschnitt', secret: 'ami' },
    delivery: { maxAttempts: 10, scriptTimeoutSeconds: 300 },
    recordKey: { index: o.index ?? 5, label: o.label ?? 'Aufnahme', featureCode: o.featureCode ?? '*1' },
  };
  const users = Object.fromEntries((o.users ?? []).map((u) => [u.id, u]));
  return { version: 1, host: 'pbx-a', settings, numbers: {}, rules: {}, users };
}

export function sampleHost(overrides: Partial<Host>): Host {
  return {
    name: 'pbx-a',
    address: 'pbx-a.example',
    port: 22,
    user: 'root',
    asteriskDir: '/etc/asterisk',
    dir: '/etc/mitschnitt',
    hostKey: 'SHA256:q3Xh1C0yGQ8lV0m7n4oKcZbq2t9dWbA6l0pYfJmR1sE',
    ...overrides,
  };
}
