import { UserError } from '../bin/cli-support.ts';
import type { Policy } from '../generator/policy.ts';
import { loadPolicy, readSecret } from './delivery-config.ts';

export { DEFAULT_CONFIG_DIR } from './delivery-config.ts';

/** What `mitschnitt serve` needs from the deployed build and the host's secrets. */
export interface RuntimeConfig {
  /** The deployed build folder (`--config`), holding policy.json and scripts/. */
  dir: string;
  policy: Policy;
  amiSecret: string;
}

export async function loadRuntimeConfig(dir: string, secretsDir?: string): Promise<RuntimeConfig> {
  const policy = await loadPolicy(dir);
  const { ami, http } = policy.settings;
  if (!ami?.host || !ami.port || !ami.user || !ami.secret || !http?.listen) {
    throw new UserError(`${dir}/policy.json has no complete settings.ami / settings.http; rebuild with this mitschnitt version`);
  }
  const amiSecret = await readSecret(secretsDir ?? policy.settings.secretsDir, ami.secret);
  if (!amiSecret) throw new UserError(`the AMI secret file ${policy.settings.secretsDir}/${ami.secret} is empty`);
  return { dir, policy, amiSecret };
}

/** `0.0.0.0:8484`, `[::1]:8484`, `localhost:8484` → host and port for server.listen. */
export function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  const port = Number(listen.slice(i + 1));
  if (!host || !Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`settings.http.listen ${JSON.stringify(listen)} is not host:port`);
  return { host, port };
}
