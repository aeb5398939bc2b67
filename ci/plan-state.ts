import { parseManifest, sha256Hex, type Manifest } from './release-files.ts';
import type { Pending } from './plan.ts';
import { RemoteError } from './ssh-connection.ts';
import { sh } from './shell.ts';

/**
 * What `mitschnitt plan` reads from a host, in one read-only command: the deployed manifest, pending work, the
 * releases, the running dialplan version, the installed mitschnitt version, whether Asterisk includes us, and the
 * content of every deployed file that differs from the build (for the diffs, and to tell hand edits apart).
 *
 * The same script is installed by the Debian package as /usr/lib/mitschnitt/plan-state, so the plan key can be
 * pinned to it on the PBX (authorized_keys `command="/usr/lib/mitschnitt/plan-state /etc/mitschnitt /etc/asterisk",restrict`):
 * that key then runs nothing else, writes nothing, and is not the root-equivalent deploy key. With any other key plan
 * sends the script itself. Its stdin (the build's `sha256  path` list) comes from whoever holds the key, so it is
 * treated as hostile: only lines of plain relative paths pass, and file contents are sent only for regular files
 * inside the deployed release (found by `find`, which never yields `..`), at most 16 MiB in all.
 */
export const PLAN_STATE_SCRIPT = `#!/bin/sh
# mitschnitt plan-state DIR ASTERISK_DIR [hashes]: a read-only view of this host for \`mitschnitt plan\` and deploy
# (ci/plan-state.ts). stdin: the build's "sha256  path" lines. Differing files are sent whole, or with "hashes" only
# their SHA-256. Writes nothing; runs \`asterisk -rx 'dialplan show version@mitschnitt-check'\`.
set -u
d=\${1:-/etc/mitschnitt}
a=\${2:-/etc/asterisk}
mode=\${3:-content}
case "$d$a" in *[!A-Za-z0-9/._-]*) echo "plan-state: bad folder name" >&2; exit 2;; esac
echo 'mitschnitt-plan-state 1'
# Each process started here costs the host CPU on every deploy, so the shell does what it can itself.
m=$(mitschnitt --version 2>/dev/null)
nl='
'
m=\${m%%"$nl"*}
case "$m" in *[!0-9A-Za-z.+~-]*) m=;; esac
printf 'mitschnitt=%s\\n' "$m"
v=$(timeout 60 asterisk -rx 'dialplan show version@mitschnitt-check' 2>/dev/null | sed -n '/.*NoOp(mitschnitt \\([0-9a-f]\\{16\\}\\)).*/{s//\\1/p;q;}')
printf 'dialplan=%s\\n' "$v"
[ "$mode" = hashes ] || printf 'includes=%s\\n' "$(grep -Rls --include=*.conf -e "$d/current/asterisk/" "$a" 2>/dev/null | wc -l)"
list=$(mktemp) || exit 1
trap 'rm -f "$list" "$list.files" "$list.bad"' EXIT
grep -E '^[0-9a-f]{64}  [A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*$' > "$list" || true
cd "$d" 2>/dev/null || { echo end; exit 0; }
find current previous -maxdepth 0 -type l -printf '%f=%l\\n' 2>/dev/null
pending=
[ -f pending ] && while [ \${#pending} -lt 200 ] && IFS= read -r w; do pending="$pending $w"; done < pending
printf 'pending=%s\\n' "$pending"
set -f
if [ -d releases ]; then for r in $(ls -1t releases); do printf 'release=%s\\n' "$r"; done; fi
set +f
[ -d staging ] && echo leftover=staging
[ -e current/manifest.json ] || { echo end; exit 0; }
echo manifest; base64 -w 0 current/manifest.json; echo
cd current || { echo end; exit 0; }
find . -type f ! -path ./manifest.json -printf '%P\\n' | sort > "$list.files"
# Files that differ from the build, and deployed files the build no longer has: their content goes out for the diffs.
{
  sha256sum --check --quiet "$list" 2>/dev/null | sed -n 's/: FAILED.*$//p'
  awk 'FILENAME == ARGV[1] { built[substr($0, 67)]; next } !($0 in built)' "$list" "$list.files"
} | sort -u > "$list.bad"
total=0
while IFS= read -r p; do
  if grep -qxF -- "$p" "$list.files" && [ "$mode" = hashes ]; then
    h=$(sha256sum -- "$p")
    printf 'hash=%s %s\\n' "\${h%% *}" "$p"
  elif grep -qxF -- "$p" "$list.files"; then
    size=$(stat -c %s -- "$p")
    total=$((total + size))
    if [ "$total" -gt 16777216 ]; then echo "toolarge=$p"; continue; fi
    printf 'file=%s\\n' "$p"; base64 -w 0 -- "$p"; echo
  else
    printf 'missing=%s\\n' "$p"
  fi
done < "$list.bad"
echo end
`;

/**
 * The command line that sends the script itself (any key but a pinned plan key, which runs it whatever is sent).
 * `hashes` mode: differing files are reported by SHA-256 only, not sent whole.
 */
export function planStateCommand(dir: string, asteriskDir: string, mode?: 'hashes'): string {
  return sh`/bin/sh -c ${PLAN_STATE_SCRIPT} plan-state ${dir} ${asteriskDir}` + (mode ? sh` ${mode}` : '');
}

/** What plan-state reported (see PLAN_STATE_SCRIPT). */
export interface PlanState {
  version: string | null;
  runningDialplan: string | null;
  /** How many of the admin's .conf files include something from `<dir>/current/asterisk/`. */
  includes: number;
  current: string | null;
  previous: string | null;
  pending: Pending[];
  releases: string[];
  leftovers: string[];
  manifest: Manifest | null;
  /** Deployed files that differ from the build (or that the build no longer has), with their bytes on the host. */
  files: Map<string, Buffer>;
  /** Files named by the build that the deployed release lacks. */
  missing: string[];
  /** In `hashes` mode: the SHA-256 of each deployed file that differs from the build (or that the build lacks). */
  hashes: Map<string, string>;
  /** Lines after the script's own answer (deploy appends probes of its own, e.g. `secret=present`). */
  extra: Map<string, string>;
}

const PENDING_WORDS: readonly Pending[] = ['dialplan', 'manager', 'features', 'install', 'restart'];
const RELEASE_NAME = /^[0-9a-f]{16}(-[0-9]{1,6})?$/;

/** The build's `sha256  path` list sent on stdin. */
export function hashList(manifest: Manifest): string {
  return Object.entries(manifest.files).map(([p, e]) => `${e.sha256}  ${p}\n`).join('');
}

export function parsePlanState(output: string, host: string): PlanState {
  const lines = output.split('\n');
  if (lines[0] !== 'mitschnitt-plan-state 1') {
    throw new RemoteError(`${host}: unexpected answer from plan-state (an old or foreign /usr/lib/mitschnitt/plan-state?): ${lines[0]?.slice(0, 120) ?? ''}`);
  }
  if (!lines.includes('end')) throw new RemoteError(`${host}: the plan-state answer was cut off`);
  const state: PlanState = { version: null, runningDialplan: null, includes: 0, current: null, previous: null, pending: [], releases: [], leftovers: [], manifest: null, files: new Map(), missing: [], hashes: new Map(), extra: new Map() };
  const link = (value: string, name: string) => {
    if (!value) return null;
    const release = value.startsWith('releases/') ? value.slice('releases/'.length) : '';
    if (!RELEASE_NAME.test(release)) throw new RemoteError(`${host}: ${name} points at '${value}', not at a release mitschnitt deployed; fix or remove it by hand`);
    return release;
  };
  const end = lines.indexOf('end');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const eq = line.indexOf('=');
    const [k, v] = eq < 0 ? [line, ''] : [line.slice(0, eq), line.slice(eq + 1)];
    switch (k) {
      case 'mitschnitt': state.version = v || null; break;
      case 'dialplan': state.runningDialplan = v || null; break;
      case 'includes': state.includes = Number(v) || 0; break;
      case 'current': state.current = link(v, 'current'); break;
      case 'previous': state.previous = link(v, 'previous'); break;
      case 'pending': state.pending = PENDING_WORDS.filter((w) => v.split(' ').includes(w)); break;
      case 'release':
        if (RELEASE_NAME.test(v)) state.releases.push(v);
        else if (v.endsWith('.tmp')) state.leftovers.push(`releases/${v}`);
        break;
      case 'leftover': state.leftovers.push(v); break;
      case 'manifest':
        try {
          state.manifest = parseManifest(Buffer.from(lines[++i] ?? '', 'base64'), `${host}:current/manifest.json`);
        } catch (err) {
          throw new RemoteError((err as Error).message);
        }
        break;
      case 'file': state.files.set(v, Buffer.from(lines[++i] ?? '', 'base64')); break;
      case 'missing': state.missing.push(v); break;
      case 'hash': {
        const m = /^([0-9a-f]{64}) (.+)$/.exec(v);
        if (m) state.hashes.set(m[2]!, m[1]!);
        break;
      }
      case 'end': break;
      case 'toolarge': throw new RemoteError(`${host}: the deployed files differing from the build exceed 16 MiB; plan cannot show them`);
      default: if (end < i && k) state.extra.set(k, v);
    }
  }
  return state;
}

/** Files of the host's release that no longer match its own manifest (edited or deleted by hand). */
export function driftedFiles(state: PlanState): string[] {
  if (!state.manifest) return [];
  const drifted: string[] = [];
  for (const [path, entry] of Object.entries(state.manifest.files)) {
    const live = state.files.get(path);
    const liveHash = live ? sha256Hex(live) : state.hashes.get(path);
    if (liveHash ? liveHash !== entry.sha256 : state.missing.includes(path)) drifted.push(path);
  }
  return drifted;
}
