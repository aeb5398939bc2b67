import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../bin/cli-support.ts';
import type { Policy } from '../generator/policy.ts';
import { policyShapeErrors } from '../generator/policy-shape.ts';

/** Where the deployed build lives on the PBX; every runtime command's `--config` default. */
export const DEFAULT_CONFIG_DIR = '/etc/mitschnitt/current';

/** Reads `<config>/policy.json` for the batch commands (deliver, expire, capacity), with errors a person can act on. */
export async function loadPolicy(configDir: string): Promise<Policy> {
  const path = join(configDir, 'policy.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read ${path}: ${(err as Error).message} (is --config the deployed build folder?)`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  const policy = value as Partial<Policy>;
  if (policy?.version !== 1 || typeof policy.settings?.spool !== 'string' || typeof policy.rules !== 'object') {
    throw new UserError(`${path} is not a mitschnitt policy (version 1 with settings and rules); rebuild and redeploy`);
  }
  const problems = policyShapeErrors(policy);
  if (problems.length > 0) throw new UserError(`${path} is damaged: ${problems.join('; ')}; rebuild and redeploy`);
  return policy as Policy;
}

/** Reads one named secret (`<secretsDir>/<name>`), without its trailing newline. */
export async function readSecret(secretsDir: string, name: string): Promise<string> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new UserError(`invalid secret name ${JSON.stringify(name)}`);
  const path = join(secretsDir, name);
  try {
    return (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  } catch (err) {
    throw new UserError(`cannot read secret ${path}: ${(err as Error).message}`);
  }
}

/**
 * Runs a batch command's work, turning operating-system errors (disk full, permissions, a missing spool) into
 * a one-line message and exit 1 instead of a stack trace; bugs still surface as they are.
 */
export async function withSystemErrors<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) throw new UserError(`${what} stopped: ${(err as Error).message}`);
    throw err;
  }
}
