import { posix } from 'node:path';
import { parseManifest, MANIFEST, type Manifest } from './release-files.ts';
import { RemoteError, type RemoteSession } from './ssh-connection.ts';
import { sh } from './shell.ts';
import type { Pending } from './plan.ts';
import { HOST_VERSION_PROBE } from './host-package.ts';

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
}

const PENDING_WORDS: readonly Pending[] = ['dialplan', 'manager', 'features', 'install', 'restart'];

/** Release folders: the content id, or `<id>-<n>` for a copy rebuilt after files were edited on the host. */
const RELEASE_NAME = /^[0-9a-f]{16}(-[0-9]{1,6})?$/;

function linkTarget(value: string, link: string, host: string): string | null {
  if (!value) return null;
  const release = value.startsWith('releases/') ? value.slice('releases/'.length) : '';
  if (!RELEASE_NAME.test(release)) throw new RemoteError(`${host}: ${link} points at '${value}', not at a release mitschnitt deployed; fix or remove it by hand`);
  return release;
}

export async function readRemoteState(session: RemoteSession, dir: string): Promise<RemoteState> {
  const out = await session.run(
    'reading the deployed state',
    `${HOST_VERSION_PROBE}; ` +
      sh`cd ${dir} 2>/dev/null || exit 0; printf 'current=%s\\n' "$(readlink current || true)"; printf 'previous=%s\\n' "$(readlink previous || true)"; ` +
      `printf 'pending=%s\\n' "$(head -c 200 pending 2>/dev/null | tr -s ' \\n' ' ')"; ` +
      `if [ -d releases ]; then ls -1t releases | sed 's/^/release=/'; fi; if [ -d staging ]; then echo leftover=staging; fi`,
  );
  const values = (key: string) => out.split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
  const name = session.target.name;
  const current = linkTarget(values('current')[0] ?? '', 'current', name);
  const previous = linkTarget(values('previous')[0] ?? '', 'previous', name);
  const releases = values('release').filter((r) => RELEASE_NAME.test(r));
  const leftovers = [
    ...values('release').filter((r) => r.endsWith('.tmp') && RELEASE_NAME.test(r.slice(0, -4))).map((r) => `releases/${r}`),
    ...values('leftover'),
  ];
  let manifest: Manifest | null = null;
  if (current) {
    const bytes = await session.readFile(posix.join(dir, 'current', MANIFEST));
    if (!bytes) throw new RemoteError(`${name}: ${dir}/current has no ${MANIFEST}; the release is damaged, remove the current link and deploy again`);
    try {
      manifest = parseManifest(bytes, `${name}:${dir}/current/${MANIFEST}`);
    } catch (err) {
      throw new RemoteError((err as Error).message);
    }
  }
  const drifted = manifest ? await findDrift(session, posix.join(dir, 'current'), manifest) : [];
  const pending = PENDING_WORDS.filter((w) => (values('pending')[0] ?? '').split(' ').includes(w));
  return { current, previous, manifest, releases, drifted, pending, leftovers, version: values('mitschnitt')[0] || null };
}

/** `sha256sum --check` of a deployed release against its own manifest: someone may have edited it by hand. */
async function findDrift(session: RemoteSession, releaseDir: string, manifest: Manifest): Promise<string[]> {
  const list = Object.entries(manifest.files).map(([p, e]) => `${e.sha256}  ${p}\n`).join('');
  const r = await session.exec(sh`cd ${releaseDir} && sha256sum --check --strict --quiet - 2>/dev/null`, list);
  if (r.code === 0) return [];
  const drifted = r.stdout.split('\n').map((l) => /^(.*): FAILED/.exec(l)?.[1]).filter((p): p is string => !!p && p in manifest.files);
  if (drifted.length === 0) throw new RemoteError(`${session.target.name}: cannot check the files in ${releaseDir} (sha256sum exit ${r.code ?? r.signal})`);
  return drifted;
}
