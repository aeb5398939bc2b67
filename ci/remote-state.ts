import { posix } from 'node:path';
import { parseManifest, MANIFEST, type Manifest } from './release-files.ts';
import { RemoteError, type RemoteSession } from './ssh-connection.ts';
import { sh } from './shell.ts';

/** What is deployed on a host under host.dir. */
export interface RemoteState {
  /** Release ids `current` and `previous` point at (null: no such link). */
  current: string | null;
  previous: string | null;
  manifest: Manifest | null;
  /** Complete releases (staging folders `<id>.tmp` excluded), newest first. */
  releases: string[];
}

const RELEASE_LINK = /^releases\/([0-9a-f]{16})$/;

function linkTarget(value: string, name: string, host: string): string | null {
  if (!value) return null;
  const m = RELEASE_LINK.exec(value);
  if (!m) throw new RemoteError(`${host}: ${name} points at '${value}', not at a release mitschnitt deployed; fix or remove it by hand`);
  return m[1]!;
}

export async function readRemoteState(session: RemoteSession, dir: string): Promise<RemoteState> {
  const out = await session.run(
    'reading the deployed state',
    sh`cd ${dir} 2>/dev/null || exit 0; printf 'current=%s\\n' "$(readlink current || true)"; printf 'previous=%s\\n' "$(readlink previous || true)"; ` +
      `if [ -d releases ]; then ls -1t releases | sed 's/^/release=/'; fi`,
  );
  const values = (key: string) => out.split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
  const name = session.target.name;
  const current = linkTarget(values('current')[0] ?? '', 'current', name);
  const previous = linkTarget(values('previous')[0] ?? '', 'previous', name);
  const releases = values('release').filter((r) => /^[0-9a-f]{16}$/.test(r));
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
  return { current, previous, manifest, releases };
}
