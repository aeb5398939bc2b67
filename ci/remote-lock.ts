import { hostname, userInfo } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { RemoteError, type RemoteSession } from './ssh-connection.ts';
import { quote } from './shell.ts';
import { checkRootAccess } from './sudo.ts';

export interface LockOptions {
  /** Seconds to wait for another deploy's lock before giving up (0: fail at once). */
  waitSeconds: number;
  /** A lock older than this is broken even if its holder still seems alive (a hung or cut-off deploy). */
  leaseMinutes: number;
  /** Remove any existing lock first (an admin's decision after checking no deploy runs). */
  force: boolean;
}

export interface RemoteLock {
  /** Why an old lock was broken, if one was. */
  broke?: string;
  release(): Promise<void>;
}

/** Exit status of the lock script when somebody else holds the lock. */
const BUSY = 75;
/** Exit status of the lock script when it does not run as root (sudo.ts explains what is missing). */
const NOT_ROOT = 77;

/**
 * The lock is the folder `<dir>/deploy.lock` (mkdir is atomic) holding who took it and the PID + start time of a
 * "keeper": the remote shell that took the lock and then waits on its stdin. The keeper lives exactly as long as our
 * SSH session: when the deploy ends it is sent `unlock` and removes the lock itself (no extra command, no extra round
 * trip); when the connection dies, sshd closes the channel and the keeper exits without a word, leaving the lock.
 * The CI machine's own PIDs are invisible from the host; this is not.
 * A dead keeper is not enough to call the lock stale: a command of the cut deploy can outlive its connection (the
 * copy loop that fills `releases/<id>.tmp` has all its input and runs on, reparented to init), and a new deploy
 * clearing that folder would race it. So the lock also records the deploy's marker (`MITSCHNITT_DEPLOY`, which every
 * command of that deploy carries in its environment, see RemoteSession.marker); before a lock is taken over, every
 * process still carrying the old marker is ended (TERM, then KILL) and waited for: the lock is free only once no
 * process of that deploy is left on the host.
 * Breaking a stale lock happens under flock(1) on `deploy.lock.guard`, so two deploys cannot both break and retake it.
 */
function lockScript(dir: string, owner: string, options: LockOptions): string {
  const leaseSeconds = Math.round(options.leaseMinutes * 60);
  return [
    'set -eu',
    'umask 022',
    // Root is needed for all that follows; checked here rather than with a command of its own (one round trip less).
    // The effective uid from /proc, read by the shell itself: every process a deploy starts on the host costs it CPU.
    'uid=; while read -r k r e _; do [ "$k" = Uid: ] && { uid=$e; break; }; done < /proc/self/status',
    `[ "$uid" = 0 ] || { echo "not running as root (uid $uid)" >&2; exit ${NOT_ROOT}; }`,
    `d=${quote(dir)}`,
    '[ -d "$d" ] || mkdir -p "$d"',
    'lock="$d/deploy.lock"',
    'exec 9>"$d/deploy.lock.guard"',
    'flock -w 30 9',
    'broke=',
    // A keeper is alive if its PID still runs the same process (same start time) and is not a zombie.
    'alive() { [ -n "${1:-}" ] && awk -v st="${2:-}" \'{ exit !($3 != "Z" && $3 != "X" && $22 == st) }\' "/proc/$1/stat" 2>/dev/null; }',
    // PIDs of processes carrying a deploy's marker (a zombie's environ is empty: it is not counted).
    'leftovers() { [ -n "$1" ] || return 0; grep -lzxF "MITSCHNITT_DEPLOY=$1" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 | grep -vx "$$" || true; }',
    'end_deploy() {',
    '  pids=$(leftovers "$1"); [ -n "$pids" ] || return 0',
    '  ended=$(printf "%s\\n" $pids | wc -l)',
    '  for sig in TERM KILL; do',
    '    kill -s $sig $pids 2>/dev/null || true',
    '    i=0; while [ $i -lt 50 ] && [ -n "$(leftovers "$1")" ]; do sleep 0.1; i=$((i+1)); done',
    '    pids=$(leftovers "$1"); [ -n "$pids" ] || return 0',
    '  done',
    '  echo "processes of the old deploy survive SIGKILL: $pids" >&2; exit 1',
    '}',
    'if ! mkdir "$lock" 2>/dev/null; then',
    '  set -- $(cat "$lock/keeper" 2>/dev/null || true)',
    '  since=$(cat "$lock/since" 2>/dev/null || echo 0)',
    '  old_marker=$(head -c 100 "$lock/marker" 2>/dev/null | tr -cd "0-9a-f" || true)',
    '  held_by=$(head -c 300 "$lock/owner" 2>/dev/null | tr -d "\\n" || true)',
    `  if [ ${options.force ? 1 : 0} = 1 ]; then broke="forced (--force-unlock)"`,
    '  elif ! alive "${1:-}" "${2:-}"; then broke="its deploy is gone"',
    `  elif [ $(( $(date +%s) - since )) -gt ${leaseSeconds} ]; then broke="lease of ${options.leaseMinutes} min expired"`,
    '  fi',
    '  if [ -z "$broke" ]; then printf "%s\\n" "$held_by" >&2; exit ' + BUSY + '; fi',
    '  if alive "${1:-}" "${2:-}"; then kill "$1" 2>/dev/null || true; fi',
    '  ended=0',
    '  end_deploy "$old_marker"',
    '  if [ "$ended" -gt 0 ]; then broke="$broke (ended $ended of its processes still running on the host)"; fi',
    '  rm -rf "$lock"',
    '  mkdir "$lock"',
    '  broke="$broke; was held by $held_by"',
    'fi',
    // This shell's start time (field 22 of its stat; its name field is "sh", without spaces) identifies the keeper.
    'read -r st < /proc/$$/stat; set -- ${st#*) }; shift 19; me="$$ $1"',
    'printf "%s\\n" "$me" > "$lock/keeper"',
    'printf "%s\\n" "${MITSCHNITT_DEPLOY:-}" > "$lock/marker"',
    'date +%s > "$lock/since"',
    `printf "%s\\n" ${quote(owner)} > "$lock/owner"`,
    'exec 9>&-',
    'printf "LOCKED %s|%s\\n" "$me" "$broke"',
    // Only `unlock` from our deploy removes the lock, and only while it is still ours (an admin may have forced it away).
    'cmd=; read -r cmd || true',
    'k=; { read -r k < "$lock/keeper"; } 2>/dev/null || true',
    'if [ "$cmd" = unlock ] && [ "$k" = "$me" ]; then rm -rf "$lock"; fi',
  ].join('\n');
}

export function lockOwner(): string {
  const ci = process.env.GITHUB_RUN_ID ? ` (GitHub run ${process.env.GITHUB_RUN_ID})` : process.env.CI_JOB_ID ? ` (GitLab job ${process.env.CI_JOB_ID})` : '';
  return `${userInfo().username}@${hostname()} pid ${process.pid}${ci} since ${new Date().toISOString()}`;
}

export async function acquireLock(session: RemoteSession, dir: string, owner: string, options: LockOptions): Promise<RemoteLock> {
  const deadline = Date.now() + options.waitSeconds * 1000;
  for (;;) {
    try {
      const held = await session.hold(lockScript(dir, owner, options));
      const m = /^LOCKED (\d+ \d+)\|(.*)$/.exec(held.firstLine);
      if (!m) {
        held.end();
        throw new RemoteError(`${session.target.name}: unexpected answer while taking the deploy lock: ${held.firstLine}`);
      }
      return {
        broke: m[2] || undefined,
        release: async () => {
          held.end('unlock\n');
          await held.exited;
        },
      };
    } catch (err) {
      const result = (err as { result?: { code: number | null; stderr: string } }).result;
      if (result?.code !== BUSY) {
        // The lock script is the first command and refuses to run without root; a missing sudo rule stops it before
        // it runs. Only now is the reason worked out, so a deploy that can proceed spends no round trip on it.
        await checkRootAccess(session);
        throw err;
      }
      if (Date.now() >= deadline) {
        throw new RemoteError(
          `${session.target.name} is being deployed by ${result.stderr.trim() || 'someone else'}; try again later` +
            (options.waitSeconds ? ` (waited ${options.waitSeconds}s)` : ' or use --lock-wait SECONDS') +
            '; if no deploy runs, --force-unlock removes the lock',
        );
      }
      await sleep(1000);
    }
  }
}
