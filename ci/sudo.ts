import { RemoteError, type RemoteSession } from './ssh-connection.ts';
import { quote } from './shell.ts';

/**
 * A non-root SSH user deploys through sudo: every remote command line runs as `sudo -n /bin/sh -c '<line>'`. `-n`
 * makes a missing NOPASSWD rule fail at once instead of waiting for a password nobody types. One fixed program in
 * the rule (the shell) rather than a list of commands, because what deploy does as root is root-equivalent anyway:
 * it installs a systemd unit and a cron.d file, which run commands as root (README: GitOps, the sudoers rule).
 */
export const SUDO_SHELL = '/bin/sh';

export function needsSudo(user: string): boolean {
  return user !== 'root';
}

/** The command line sshd runs for `command` when the SSH user is `user`. */
export function asRoot(command: string, user: string): string {
  return needsSudo(user) ? `sudo -n ${SUDO_SHELL} -c ${quote(command)}` : command;
}

/** The sudoers line (for `visudo -f /etc/sudoers.d/mitschnitt`) that lets `user` deploy. */
export function sudoersLine(user: string): string {
  return `${user} ALL=(root) NOPASSWD: ${SUDO_SHELL}`;
}

/**
 * Checks, before anything is touched, that the session's commands run as root: directly for root, else through
 * `sudo -n`. A user without the NOPASSWD rule gets the exact line to add.
 */
export async function checkRootAccess(session: RemoteSession): Promise<void> {
  const { name, user } = session.target;
  const r = await session.exec('id -u');
  if (r.code === 0 && r.stdout.trim() === '0') return;
  const said = (r.stderr || r.stdout).trim().split('\n').slice(-2).join(' / ') || `exit ${r.code ?? r.signal}`;
  if (!needsSudo(user)) throw new RemoteError(`${name}: SSH user 'root' does not run commands as uid 0 (id -u said: ${said})`);
  const fix = `on the host run \`visudo -f /etc/sudoers.d/mitschnitt\` and add the line: ${sudoersLine(user)}`;
  if (r.code === 127) throw new RemoteError(`${name}: SSH user '${user}' is not root, and sudo is not installed on the host (${said}); install sudo, then ${fix}`);
  throw new RemoteError(`${name}: SSH user '${user}' cannot run commands as root through sudo without a password (sudo -n said: ${said}); ${fix}`);
}
