import type { Manifest } from './release-files.ts';
import type { SecretPaths } from './host-secrets.ts';
import type { Pending } from './plan.ts';
import { driftedFiles, hashList, parsePlanState, planStateCommand } from './plan-state.ts';
import { RemoteError, type RemoteSession } from './ssh-connection.ts';
import { quote } from './shell.ts';

/** What is deployed on a host under host.dir. */
export interface RemoteState {
  /** Release ids `current` and `previous` point at (null: no such link). */
  current: string | null;
  previous: string | null;
  manifest: Manifest | null;
  /** Complete releases (staging folders `<id>.tmp` excluded), newest first. */
  releases: string[];
  /** Files of the current release that no longer match its manifest (edited or deleted on the host). */
  drifted: string[];
  /** Reloads and restart an interrupted deploy still owes the host (`<dir>/pending`). */
  pending: Pending[];
  /** Half-built `releases/<id>.tmp` folders and the `staging` upload folder left by deploys that were cut off. */
  leftovers: string[];
  /** `mitschnitt --version` on the host (null: no mitschnitt on the PATH), see host-package.ts. */
  version: string | null;
  /** The dialplan version Asterisk runs (`dialplan show version@mitschnitt-check`); null: none loaded. */
  runningDialplan: string | null;
  /** Whether the AMI secret and its manager include exist (asked only when `secrets` are given). */
  secretPresent: boolean;
}

/**
 * Everything deploy needs to know about a host, in one command (one round trip): the plan-state script
 * (plan-state.ts) in `hashes` mode, given the build's file list, so only files that differ from the build are hashed
 * and reported; drift against the host's own manifest follows from those hashes. With `secrets`, it also says
 * whether the AMI secret exists, so deploy only runs the command that creates it when it is missing.
 */
export async function readRemoteState(
  session: RemoteSession,
  dir: string,
  options: { asteriskDir?: string; build?: Manifest; secrets?: SecretPaths } = {},
): Promise<RemoteState> {
  const name = session.target.name;
  const secretProbe = options.secrets
    ? `; f=${quote(`${options.secrets.secretsDir}/${options.secrets.amiSecret}`)}; [ -s "$f" ] && [ -s "$f.manager.conf" ] && echo secret=present; true`
    : '';
  const r = await session.exec(
    planStateCommand(dir, options.asteriskDir ?? '/etc/asterisk', 'hashes') + secretProbe,
    options.build ? hashList(options.build) : '',
  );
  if (!r.stdout.startsWith('mitschnitt-plan-state')) {
    throw new RemoteError(`reading the deployed state failed on ${name} (exit ${r.code ?? r.signal}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}`);
  }
  const state = parsePlanState(r.stdout, name);
  if (state.current && !state.manifest) {
    throw new RemoteError(`${name}: ${dir}/current has no manifest.json; the release is damaged, remove the current link and deploy again`);
  }
  return {
    current: state.current,
    previous: state.previous,
    manifest: state.manifest,
    releases: state.releases,
    drifted: driftedFiles(state),
    pending: state.pending,
    leftovers: state.leftovers,
    version: state.version,
    runningDialplan: state.runningDialplan,
    secretPresent: state.extra.get('secret') === 'present',
  };
}
