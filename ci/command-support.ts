import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError, UserError } from '../bin/cli-support.ts';
import { build } from '../generator/build.ts';
import { formatRuleError } from '../generator/rule-error.ts';
import type { Host } from '../generator/rule-set.ts';
import { validateRules } from '../generator/validate.ts';
import { readKnownHosts, type KnownHostsEntry } from './host-key.ts';
import { RemoteError, resolveAuth, type SshAuth } from './ssh-connection.ts';

/** Flags `plan` and `deploy` share. */
export const COMMON_FLAGS = {
  rules: { type: 'string' },
  out: { type: 'string' },
  host: { type: 'string', multiple: true },
  all: { type: 'boolean' },
  json: { type: 'boolean' },
  identity: { type: 'string' },
  'known-hosts': { type: 'string' },
  parallel: { type: 'string' },
} as const;

/**
 * Hosts deployed or planned at once. A host's deploy mostly waits on its network and the host's own CPU (the deploying
 * process spends ~13 ms CPU per host), so all hosts of a usual company run together; 4 at a time made 20 hosts take
 * five rounds (bench/deploy.bench.ts).
 */
export const DEFAULT_PARALLEL = 32;

export function positiveInt(value: string | undefined, flag: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!/^[0-9]+$/.test(value) || Number(value) < min) throw new UsageError(`${flag} needs a whole number ≥ ${min}, not '${value}'`);
  return Number(value);
}

/** Validates and builds the rules into outDir; returns the hosts selected by --host/--all (default: all). */
export async function buildAndSelect(rulesDir: string, outDir: string, names: string[] | undefined, all: boolean | undefined): Promise<Host[]> {
  if (names?.length && all) throw new UsageError('give either --host NAME or --all, not both');
  const validation = validateRules(rulesDir);
  if (!validation.ok) {
    for (const e of validation.errors) console.error(formatRuleError(e, rulesDir));
    throw new UserError(`${validation.errors.length} error(s) in the rules; nothing was built or deployed`);
  }
  const hosts = validation.ruleSet.hosts;
  const unknown = (names ?? []).filter((n) => !hosts.some((h) => h.name === n));
  if (unknown.length) throw new UserError(`unknown host ${unknown.join(', ')}; hosts.json has ${hosts.map((h) => h.name).join(', ')}`);
  const built = await build({ rulesDir, outDir });
  if (!built.ok) {
    for (const e of built.errors) console.error(formatRuleError(e, rulesDir));
    throw new UserError('the build failed; nothing was deployed');
  }
  return names?.length ? hosts.filter((h) => names.includes(h.name)) : hosts;
}

export function sshSetup(identity: string | undefined, knownHostsFile: string | undefined): { auth: SshAuth; knownHosts?: KnownHostsEntry[] } {
  let auth: SshAuth;
  try {
    auth = resolveAuth(identity, process.env);
  } catch (err) {
    if (err instanceof RemoteError) throw new UserError(err.message);
    throw err;
  }
  if (knownHostsFile && !existsSync(knownHostsFile)) throw new UserError(`known_hosts file ${resolve(knownHostsFile)} does not exist`);
  return { auth, knownHosts: knownHostsFile ? readKnownHosts(knownHostsFile) : undefined };
}
