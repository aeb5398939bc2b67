import { readFileSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import ssh2 from 'ssh2';
import type { AuthenticationType, ClientChannel, SFTPWrapper } from 'ssh2';
import { checkHostKey, type HostTrust } from './host-key.ts';
import { quote } from './shell.ts';
import { asRoot } from './sudo.ts';

const { Client } = ssh2;

/** A failure talking to a host: its message is meant for the person running the deploy. */
export class RemoteError extends Error {}

export interface SshTarget extends HostTrust {
  /** The host's name in hosts.json, used in messages. */
  name: string;
  user: string;
}

export interface SshAuth {
  privateKey?: Buffer;
  /** Path of an ssh-agent socket. */
  agent?: string;
}

/**
 * Where the private key comes from: `--identity FILE`, else `MITSCHNITT_SSH_KEY` (a key itself, as CI secrets hold it,
 * or a path), else the ssh-agent at SSH_AUTH_SOCK.
 */
export function resolveAuth(identity: string | undefined, env: NodeJS.ProcessEnv): SshAuth {
  const readKey = (file: string, source: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new RemoteError(`cannot read the SSH private key ${file} (${source}): ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
  };
  if (identity) return { privateKey: readKey(identity, '--identity') };
  const fromEnv = env.MITSCHNITT_SSH_KEY;
  if (fromEnv) {
    return { privateKey: fromEnv.includes('PRIVATE KEY-----') ? Buffer.from(fromEnv) : readKey(fromEnv, 'MITSCHNITT_SSH_KEY') };
  }
  if (env.SSH_AUTH_SOCK) return { agent: env.SSH_AUTH_SOCK };
  throw new RemoteError('no SSH key: give --identity FILE, set MITSCHNITT_SSH_KEY, or run an ssh-agent (SSH_AUTH_SOCK)');
}

export interface ExecResult {
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
}

/** A long-running remote command whose first output line has been read; `end(last)` writes `last` and closes its stdin. */
export interface HeldCommand {
  firstLine: string;
  end(last?: string): void;
}

/**
 * One authenticated SSH connection to a PBX: exec for commands (quoted by the caller), run as root; SFTP for files,
 * as the SSH user (who can read the world-readable releases, but writes only where it owns the folder).
 */
export class RemoteSession {
  private sftpHandle?: Promise<SFTPWrapper>;
  private lost?: Error;
  /**
   * Set by a deploy: every command it starts carries `MITSCHNITT_DEPLOY=<marker>` in its environment, inherited by
   * everything the command starts. A command does not die with its connection (a `while read` copy loop whose input
   * already arrived runs on, reparented to init), so the lock can only be judged stale once no process carrying the
   * marker is left on the host (remote-lock.ts).
   */
  marker?: string;

  constructor(
    readonly target: SshTarget,
    private readonly client: InstanceType<typeof Client>,
    private readonly socket: Socket,
  ) {
    client.on('error', (err) => (this.lost = err));
    client.on('close', () => (this.lost ??= new RemoteError('connection closed')));
  }

  /** Remote commands started so far (each is a channel, a process on the host, and at least one round trip). */
  commandsRun = 0;

  /** Bytes written to the TCP connection so far (SSH framing and encryption included). */
  get bytesSent(): number {
    return this.socket.bytesWritten;
  }

  /** Whether the connection is gone (closed or failed): nothing more can be asked of the host over it. */
  get isLost(): boolean {
    return this.lost !== undefined;
  }

  private where(): string {
    return `${this.target.user}@${this.target.address}:${this.target.port}`;
  }

  /**
   * Opens an exec channel for `command`, as root (through `sudo -n` for a non-root SSH user: see sudo.ts; SFTP stays
   * the SSH user), and hands it to `attach` synchronously, inside ssh2's callback: a fast command's output,
   * exit status and close can arrive in the same TCP read as the channel confirmation, and an `exit` event emitted
   * before a listener exists is lost.
   */
  private channel<T>(command: string, attach: (stream: ClientChannel) => Promise<T>): Promise<T> {
    return new Promise((resolve, reject) => {
      if (this.lost) return reject(new RemoteError(`connection to ${this.where()} lost: ${this.lost.message}`));
      // The marker goes into the environment of the shell that runs the command (exec: no extra process), so /proc
      // shows it on that shell and on everything it starts, as root or through sudo (whose env_reset would drop it).
      this.commandsRun++;
      const marked = this.marker ? `MITSCHNITT_DEPLOY=${quote(this.marker)} exec /bin/sh -c ${quote(command)}` : command;
      this.client.exec(asRoot(marked, this.target.user), (err, stream) => {
        if (err) reject(new RemoteError(`cannot run a command on ${this.where()}: ${err.message}`));
        else attach(stream).then(resolve, reject);
      });
    });
  }

  /** Runs a shell command line (every argument already quoted) and collects its output. */
  exec(command: string, stdin?: string | Buffer): Promise<ExecResult> {
    return this.channel(command, (stream) => new Promise((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let code: number | null = null;
      let signal: string | undefined;
      stream.on('data', (d: Buffer) => out.push(d));
      stream.stderr.on('data', (d: Buffer) => err.push(d));
      stream.on('exit', (c: number | null, s?: string) => {
        code = c;
        signal = s;
      });
      stream.on('close', () => {
        if (code === null && !signal && this.lost) {
          reject(new RemoteError(`connection to ${this.where()} lost while running a command`));
          return;
        }
        resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
      });
      stream.end(stdin);
    }));
  }

  /** Like exec, but a non-zero exit is an error carrying `what` and the command's stderr. */
  async run(what: string, command: string, stdin?: string | Buffer): Promise<string> {
    const r = await this.exec(command, stdin);
    if (r.code !== 0) {
      const detail = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ');
      throw new RemoteError(`${what} failed on ${this.target.name} (exit ${r.code ?? r.signal})${detail ? `: ${detail}` : ''}`);
    }
    return r.stdout;
  }

  /**
   * Starts a command that keeps running until we close its stdin or the connection dies (then sshd ends it):
   * resolves with its first output line once that line arrives, or rejects if it exits first.
   */
  hold(command: string): Promise<HeldCommand & { exited: Promise<ExecResult> }> {
    return this.channel(command, (stream) => {
      let buffered = '';
      let stderr = '';
      let code: number | null = null;
      const exited = new Promise<ExecResult>((done) => {
        stream.on('exit', (c: number | null) => (code = c));
        stream.on('close', () => done({ code, stdout: buffered, stderr }));
      });
      return new Promise((resolve, reject) => {
        let settled = false;
        stream.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
        stream.on('data', (d: Buffer) => {
          buffered += d.toString('utf8');
          const nl = buffered.indexOf('\n');
          if (!settled && nl >= 0) {
            settled = true;
            resolve({ firstLine: buffered.slice(0, nl), end: (last?: string) => stream.end(last), exited });
          }
        });
        void exited.then((r) => {
          if (!settled) {
            settled = true;
            reject(Object.assign(new RemoteError(r.stderr.trim() || `command ended with exit ${r.code}`), { result: r }));
          }
        });
      });
    });
  }

  private sftp(): Promise<SFTPWrapper> {
    this.sftpHandle ??= new Promise((resolve, reject) =>
      this.client.sftp((err, sftp) => (err ? reject(new RemoteError(`SFTP to ${this.where()} failed: ${err.message}`)) : resolve(sftp))),
    );
    return this.sftpHandle;
  }

  /** Writes a file over SFTP with an explicit mode (the server's umask does not apply to the final chmod). */
  async writeFile(path: string, data: Buffer, mode: number): Promise<void> {
    const sftp = await this.sftp();
    await new Promise<void>((resolve, reject) =>
      sftp.writeFile(path, data, { mode }, (err) => (err ? reject(new RemoteError(`upload of ${path} to ${this.target.name} failed: ${err.message}`)) : resolve())),
    );
    await new Promise<void>((resolve, reject) =>
      sftp.chmod(path, mode, (err) => (err ? reject(new RemoteError(`chmod of ${path} on ${this.target.name} failed: ${err.message}`)) : resolve())),
    );
  }

  /** Reads a remote file; null when it does not exist. */
  async readFile(path: string): Promise<Buffer | null> {
    const sftp = await this.sftp();
    return new Promise((resolve, reject) =>
      sftp.readFile(path, (err: (Error & { code?: number }) | undefined, data: Buffer) => {
        // SFTP status 2 = SSH_FX_NO_SUCH_FILE
        if (err && err.code === 2) resolve(null);
        else if (err) reject(new RemoteError(`reading ${path} on ${this.target.name} failed: ${err.message}`));
        else resolve(data);
      }),
    );
  }

  close(): void {
    this.client.end();
    this.socket.destroy();
  }
}

export interface ConnectOptions {
  timeoutMs?: number;
}

/** Opens an SSH connection after checking the host key against the rules' fingerprint (and known_hosts, if given). */
export function connectSsh(target: SshTarget, auth: SshAuth, options: ConnectOptions = {}): Promise<RemoteSession> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    // Without TCP_NODELAY, Nagle holds back each small SSH packet until the last one is acknowledged, and the host's
    // delayed ACK makes that ~40 ms: per command, not per byte, so most of one host's deploy time was this wait.
    const socket = tcpConnect({ host: target.address, port: target.port, noDelay: true });
    const client = new Client();
    let refusal: string | undefined;
    const fail = (message: string) => {
      client.end();
      socket.destroy();
      reject(new RemoteError(message));
    };
    socket.setTimeout(timeoutMs, () => fail(`connection to ${target.address}:${target.port} timed out after ${timeoutMs / 1000}s`));
    socket.once('error', (err) => fail(`cannot connect to ${target.address}:${target.port}: ${err.message}`));
    client.once('ready', () => {
      socket.setTimeout(0);
      socket.removeAllListeners('error');
      socket.on('error', () => {}); // reported through the client's error event
      resolve(new RemoteSession(target, client, socket));
    });
    client.once('error', (err) => fail(refusal ?? `SSH to ${target.user}@${target.address}:${target.port} failed: ${err.message}`));
    client.connect({
      sock: socket,
      username: target.user,
      privateKey: auth.privateKey,
      agent: auth.agent,
      // Straight to the key: ssh2 otherwise asks with method 'none' first, a round trip the server always refuses.
      authHandler: [...(auth.privateKey ? ['publickey' as const] : []), ...(auth.agent ? ['agent' as const] : [])] satisfies AuthenticationType[],
      readyTimeout: timeoutMs,
      keepaliveInterval: 10_000,
      hostVerifier: (key: Buffer) => {
        const verdict = checkHostKey(target, key);
        if (!verdict.ok) refusal = verdict.reason;
        return verdict.ok;
      },
    });
  });
}
