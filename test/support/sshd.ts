// A real OpenSSH server (Debian openssh-server) on 127.0.0.1 for deploy tests: its own host key, one authorized
// client key (and optionally the users' own ~/.ssh/authorized_keys), root login, and extra environment (e.g. PATH with stand-in commands first) for every session.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Sshd {
  port: number;
  /** `SHA256:…` of the server's host key, as hosts.json wants it. */
  hostKey: string;
  /** The host key's public line (`ssh-ed25519 AAAA…`), for known_hosts files. */
  hostKeyPublic: string;
  clientKeyPath: string;
  dir: string;
  /** PIDs of the per-connection sshd processes (monitors and their unprivileged children); SIGKILL cuts the connections. */
  sessionPids(): number[];
  stop(): Promise<void>;
}

export interface SshdOptions {
  /** Environment for every session (sshd `SetEnv`). */
  env?: Record<string, string>;
  /** Reuse a client key (several servers, one deploy key). */
  clientKeyPath?: string;
  /** Reuse a host key directory (restart on the same identity). */
  hostKeyPath?: string;
  port?: number;
  /** Also accept each user's own `~/.ssh/authorized_keys` (a non-root deploy user with its own key). */
  homeKeys?: boolean;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export function keygen(path: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'mitschnitt-test', '-f', path]);
}

export function keyFingerprint(pubPath: string): string {
  const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubPath], { encoding: 'utf8' });
  return /(SHA256:[A-Za-z0-9+/]{43})/.exec(out)![1]!;
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Every sshd process below the listener: each connection's monitor and its unprivileged child. The child carries the
 * connection's traffic and starts its commands, and it lives on after its monitor is killed until it next asks the
 * monitor for something, so killing only the monitors does not cut a connection. Shells and sudo below them are left
 * alone, as a real cut leaves them.
 */
function sshdPidsBelow(pid: number): number[] {
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const child of childPids(parent)) {
      let comm = '';
      try {
        comm = readFileSync(`/proc/${child}/comm`, 'utf8').trim();
      } catch {
        continue;
      }
      if (comm !== 'sshd') continue;
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

export async function startSshd(options: SshdOptions = {}): Promise<Sshd> {
  if (!existsSync('/usr/sbin/sshd')) throw new Error('/usr/sbin/sshd missing: apt-get install openssh-server (see .ci/run)');
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join(tmpdir(), 'mitschnitt-sshd-'));
  const hostKeyPath = options.hostKeyPath ?? join(dir, 'host_ed25519');
  if (!options.hostKeyPath) keygen(hostKeyPath);
  const clientKeyPath = options.clientKeyPath ?? join(dir, 'client_ed25519');
  if (!options.clientKeyPath) keygen(clientKeyPath);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${clientKeyPath}.pub`));
  const port = options.port ?? (await freePort());
  const setEnv = Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`);
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKeyPath}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}${options.homeKeys ? ' .ssh/authorized_keys' : ''}`,
    'StrictModes no',
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'MaxSessions 50',
    'MaxStartups 100',
    'Subsystem sftp internal-sftp',
    ...(setEnv.length ? [`SetEnv ${setEnv.join(' ')}`] : []),
  ].join('\n');
  writeFileSync(join(dir, 'sshd_config'), config + '\n');
  const child: ChildProcess = spawn('/usr/sbin/sshd', ['-f', join(dir, 'sshd_config'), '-D', '-e'], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let log = '';
    const onData = (d: Buffer) => {
      log += d.toString();
      if (log.includes('Server listening on')) {
        child.stderr!.off('data', onData);
        child.stderr!.resume(); // keep draining: sshd logs every connection
        resolve();
      }
    };
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`sshd exited with ${code}: ${log}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    port,
    hostKey: keyFingerprint(`${hostKeyPath}.pub`),
    hostKeyPublic: readFileSync(`${hostKeyPath}.pub`, 'utf8').split(' ').slice(0, 2).join(' '),
    clientKeyPath,
    dir,
    sessionPids: () => sshdPidsBelow(child.pid!),
    stop: async () => {
      for (const pid of sshdPidsBelow(child.pid!)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
