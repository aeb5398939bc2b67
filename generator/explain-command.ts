import { readFileSync } from 'node:fs';
import { BUNDLED_RULES, EXIT, UsageError, UserError, parseFlags, type Command } from '../bin/cli-support.ts';
import { validateRules } from './validate.ts';
import { formatRuleError } from './rule-error.ts';
import { resolvePolicy } from './resolve-policy.ts';
import { sanitizeNumber } from './decide.ts';
import { explain } from './explain.ts';
import type { Policy } from './policy.ts';
import type { RuleSet } from './rule-set.ts';

export const explainCommand: Command = {
  summary: 'Say whether a call from one number to another is recorded, by which rule, and why.',
  usage:
    'mitschnitt explain --from N --to N [--origin internal|external] [--mode force|deny|manual|auto|VALUE] [--inherited deny|auto|force|manual|none] [--host NAME] [--rules DIR | --policy FILE] [--json]',
  async run(argv) {
    const { values } = parseFlags(argv, {
      from: { type: 'string' },
      to: { type: 'string' },
      origin: { type: 'string' },
      mode: { type: 'string' },
      inherited: { type: 'string' },
      host: { type: 'string' },
      rules: { type: 'string' },
      policy: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.from === undefined || values.to === undefined) throw new UsageError('--from and --to are required');
    if (values.origin !== undefined && values.origin !== 'internal' && values.origin !== 'external') {
      throw new UsageError(`--origin must be 'internal' or 'external', not '${values.origin}'`);
    }
    if (values.rules !== undefined && values.policy !== undefined) throw new UsageError('give either --rules or --policy, not both');

    const { policy, allActive } = values.policy !== undefined ? { policy: readPolicy(values.policy, values.host), allActive: undefined } : policiesFromRules(values.rules, values.host, [values.from, values.to]);
    // --mode passes any value through, as the channel variable could hold anything: unknown ones are explained as such.
    // --inherited: the MITSCHNITT_DECISION a channel created by the call (Dial, Queue, Local) carries from upstream.
    const question = {
      from: values.from,
      to: values.to,
      ...(values.origin ? { origin: values.origin } : {}),
      ...(values.mode !== undefined ? { mode: values.mode } : {}),
      ...(values.inherited !== undefined ? { inherited: values.inherited } : {}),
    };
    const { decision, lines } = explain(policy, question, allActive);
    console.log(values.json ? JSON.stringify(decision, null, 2) : lines.join('\n'));
    return EXIT.ok;
  },
};

/** The host's policy, and the same with every rule switched on (to name inactive rules that would matter). */
function policiesFromRules(rulesDir: string | undefined, hostName: string | undefined, numbers: string[]): { policy: Policy; allActive: Policy } {
  const label = rulesDir ?? 'rules';
  const result = validateRules(rulesDir ?? BUNDLED_RULES);
  if (!result.ok) {
    throw new UserError(`the rules are invalid:\n${result.errors.map((e) => formatRuleError(e, label)).join('\n')}`);
  }
  const ruleSet = result.ruleSet;
  const host = chooseHost(ruleSet, hostName, numbers);
  return {
    policy: resolvePolicy(ruleSet, host),
    allActive: resolvePolicy({ ...ruleSet, rules: ruleSet.rules.map((r) => ({ ...r, active: true })) }, host),
  };
}

/** --host, else the home host of the caller or the callee if internal, else the first host. */
function chooseHost(ruleSet: RuleSet, hostName: string | undefined, numbers: string[]): string {
  const names = ruleSet.hosts.map((h) => h.name);
  if (hostName !== undefined) {
    if (!names.includes(hostName)) throw new UsageError(`unknown host '${hostName}'; the hosts are ${names.join(', ')}`);
    return hostName;
  }
  for (const raw of numbers) {
    const ext = sanitizeNumber(raw);
    const home = ruleSet.users.find((u) => u.ext === ext)?.host ?? ruleSet.teams.find((t) => t.ext === ext)?.host;
    if (home) return home;
  }
  return names[0]!;
}

function readPolicy(path: string, hostName: string | undefined): Policy {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UserError(`cannot read the policy ${path}: ${(err as Error).message}`);
  }
  const p = data as Partial<Policy> | null;
  if (!p || typeof p !== 'object' || p.version !== 1 || typeof p.host !== 'string' || typeof p.numbers !== 'object' || typeof p.rules !== 'object') {
    throw new UserError(`${path} is not a mitschnitt policy.json (version 1); build one with mitschnitt build`);
  }
  for (const [ext, n] of Object.entries(p.numbers as Record<string, unknown>)) {
    if (!isNumberEntry(n)) throw new UserError(`${path}: number ${ext} lacks its outbound/inbound cells; rebuild it with mitschnitt build`);
  }
  if (hostName !== undefined && hostName !== p.host) throw new UserError(`${path} is the policy of host ${p.host}, not ${hostName}`);
  return p as Policy;
}

function isNumberEntry(value: unknown): boolean {
  const n = value as Record<string, Record<string, { decision?: unknown }> | undefined> | null;
  const cellOk = (c: { decision?: unknown } | undefined) => typeof c?.decision === 'string';
  return !!n && typeof n === 'object' && ['outbound', 'inbound'].every((d) => cellOk(n[d]?.internal) && cellOk(n[d]?.external));
}
