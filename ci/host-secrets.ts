import type { RemoteSession } from './ssh-connection.ts';
import { quote } from './shell.ts';

/** Where the secrets live, from the release's policy.json settings (generator/render-manager.ts names the include). */
export interface SecretPaths {
  secretsDir: string;
  /** Name of the AMI secret (settings.ami.secret): the runtime reads `<secretsDir>/<name>`. */
  amiSecret: string;
}

/**
 * Creates the AMI secret on the host once (32 random bytes, hex) and the manager.conf include that hands it to
 * Asterisk (`<secretsDir>/<name>.manager.conf`, `secret = …`, as generator/render-manager.ts #tryincludes it).
 * The secret is generated, read and written only by the remote shell: it never crosses the SSH connection and is
 * never printed. Ownership: the secret file belongs to the runtime user `mitschnitt` (mode 0600) and the include to
 * group `asterisk` (mode 0640) when those exist; the folder is 0711 so each can open its file by name only.
 * Returns true when the include was (re)created, so Asterisk needs a `manager reload` to learn the secret.
 */
export async function ensureAmiSecret(session: RemoteSession, paths: SecretPaths): Promise<boolean> {
  const script = [
    'set -eu',
    `d=${quote(paths.secretsDir)}`,
    `f="$d"/${quote(paths.amiSecret)}`,
    'inc="$f.manager.conf"',
    'umask 077',
    'if [ ! -d "$d" ]; then mkdir -p "$d"; chmod 0711 "$d"; fi',
    'if [ ! -s "$f" ]; then',
    '  head -c 32 /dev/urandom | od -An -tx1 | tr -d " \\n" > "$f.new.$$"',
    '  chmod 0600 "$f.new.$$"',
    '  if id -u mitschnitt >/dev/null 2>&1; then chown mitschnitt "$f.new.$$"; fi',
    // link(2) fails if the secret exists: of two deploys sharing a secrets folder, exactly one secret wins.
    '  ln "$f.new.$$" "$f" 2>/dev/null || true',
    '  rm -f "$f.new.$$"',
    'fi',
    'if [ ! -s "$inc" ]; then',
    '  s=$(cat "$f")',
    // An admin-made secret that would break out of the `secret =` line is refused, not copied.
    '  case "$s" in ""|*[!A-Za-z0-9+/=_.-]*) echo "the AMI secret in $f has characters manager.conf cannot take (allowed: A-Z a-z 0-9 + / = _ . -)" >&2; exit 3;; esac',
    '  printf "secret = %s\\n" "$s" > "$inc.new.$$"',
    '  if getent group asterisk >/dev/null 2>&1; then chgrp asterisk "$inc.new.$$"; chmod 0640 "$inc.new.$$"; else chmod 0600 "$inc.new.$$"; fi',
    '  mv -f "$inc.new.$$" "$inc"',
    '  echo created',
    'fi',
  ].join('\n');
  const out = await session.run('creating the AMI secret', script);
  return out.includes('created');
}
