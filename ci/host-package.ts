import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { VERSION } from '../bin/version.ts';
import { sha256Hex } from './release-files.ts';
import { RemoteError, type RemoteSession } from './ssh-connection.ts';
import { quote, sh } from './shell.ts';
import { needsSudo } from './sudo.ts';

/**
 * Version pinning: a release is built by this mitschnitt (package.json's version, which the repository holding the
 * rules pins through its package.json/package-lock.json), and its policy.json is read by the mitschnitt installed on
 * the host. The two must be the same version, so a change of the policy format never meets an older (or newer)
 * runtime: deploy refuses a host running another version, or upgrades it when given the package (`--package FILE`).
 */
export const BUILD_VERSION = VERSION;

/** A mitschnitt_<version>_<arch>.deb to install on hosts. */
export interface LocalPackage {
  path: string;
  /** The npm-style version it carries (Debian's `~` turned back into `-`), comparable with `mitschnitt --version`. */
  version: string;
  debVersion: string;
  bytes: Buffer;
  sha256: string;
}

/** Reads a package file; its name must be the one `npm run package` gives (the version is taken from it, and checked on the host). */
export function readLocalPackage(path: string): LocalPackage {
  const m = /^mitschnitt_([0-9][0-9A-Za-z.+~]*)_([a-z0-9-]+)\.deb$/.exec(basename(path));
  if (!m) throw new Error(`${path}: not a mitschnitt package file (expected mitschnitt_<version>_<arch>.deb, as npm run package names it)`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read the package ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  const debVersion = m[1]!;
  return { path, version: debVersion.replace('~', '-'), debVersion, bytes, sha256: sha256Hex(bytes) };
}

/** Why a host's installed mitschnitt cannot take this build, or null when it can. */
export function versionMismatch(hostName: string, hostVersion: string | null, buildVersion = BUILD_VERSION): string | null {
  if (hostVersion === buildVersion) return null;
  const fix = `install mitschnitt ${buildVersion} there: mitschnitt deploy --host ${hostName} --package mitschnitt_${buildVersion.replace('-', '~')}_<arch>.deb (npm run package builds it; --bootstrap also sets up a new host)`;
  if (!hostVersion) return `${hostName} has no mitschnitt on the PATH, but these rules are built for mitschnitt ${buildVersion}: ${fix}`;
  return `${hostName} runs mitschnitt ${hostVersion}, but these rules are built with mitschnitt ${buildVersion} (the policy format may differ): ${fix}`;
}

/**
 * Uploads the package and installs it with apt-get (which also installs or upgrades over an older version, and takes
 * dependencies such as acl from the host's usual Debian mirror if they are missing). The file goes to a fresh folder
 * made by root for the SSH user (SFTP writes as that user), is checked by SHA-256 there, and removed afterwards.
 * Returns apt's last lines.
 */
export async function installPackage(session: RemoteSession, pkg: LocalPackage): Promise<string> {
  const user = session.target.user;
  const dir = (await session.run('preparing the package upload', `set -e; d=$(mktemp -d /tmp/mitschnitt-package.XXXXXX); ${needsSudo(user) ? `chown ${quote(user)} "$d"; ` : ''}echo "$d"`)).trim();
  if (!/^\/tmp\/mitschnitt-package\.[A-Za-z0-9]+$/.test(dir)) throw new RemoteError(`${session.target.name}: unexpected upload folder '${dir}'`);
  const file = `${dir}/${basename(pkg.path)}`;
  try {
    await session.writeFile(file, pkg.bytes, 0o644);
    const out = await session.run(
      `installing ${basename(pkg.path)}`,
      sh`set -e; cd ${dir}; chown -R 0:0 .; echo ${`${pkg.sha256}  ${basename(pkg.path)}`} | sha256sum --check --strict --quiet -; ` +
        sh`v=$(dpkg-deb --field ${basename(pkg.path)} Version); [ "$v" = ${pkg.debVersion} ] || { echo "the package says version $v, its name ${pkg.debVersion}" >&2; exit 1; }; ` +
        sh`DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ${`./${basename(pkg.path)}`} > apt.log 2>&1 || { tail -n 20 apt.log >&2; exit 1; }; tail -n 5 apt.log`,
    );
    return out.trim();
  } finally {
    await session.exec(sh`rm -rf ${dir}`).catch(() => undefined);
  }
}
