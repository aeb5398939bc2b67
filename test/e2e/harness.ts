// Helpers for the whole-flow test: the CLI as a child process, a long-running `serve` whose JSON log lines are
// collected, and a real SMTP server that keeps every message it accepts.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { simpleGit } from 'simple-git';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(REPO_ROOT, 'bin/mitschnitt.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `mitschnitt ARGS…` as an admin or cron would run it. */
export function cli(args: string[], o: { cwd?: string; env?: Record<string, string>; input?: string } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: o.cwd, env: { ...process.env, SSH_AUTH_SOCK: '', ...o.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(o.input ?? '');
  });
}

/**
 * The admin's rules repository as deploy wants it: `dir` committed on main and pushed to a bare `origin` next to
 * it (`<dir>/../remote.git`), so deploy finds a clean, pushed tree.
 */
export async function initRulesRepo(dir: string, message: string): Promise<void> {
  const git = simpleGit(dir);
  await simpleGit(dirname(dir)).raw(['init', '-q', '--bare', '-b', 'main', join(dirname(dir), 'remote.git')]);
  await git.init(['-b', 'main']);
  await git.addConfig('user.name', 'Test Admin').addConfig('user.email', 'admin@example.com');
  await git.addRemote('origin', join(dirname(dir), 'remote.git'));
  await git.add('.');
  await git.commit(message);
  await git.push(['-u', 'origin', 'main']);
}

export interface LogLine {
  level: string;
  msg: string;
  [k: string]: unknown;
}

/** A long-running CLI process (serve) with its JSON log lines. */
export class Service {
  readonly lines: LogLine[] = [];
  readonly garbage: string[] = [];
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (stream: NodeJS.ReadableStream) => {
      let rest = '';
      stream.on('data', (d: Buffer) => {
        const parts = (rest + d.toString()).split('\n');
        rest = parts.pop()!;
        for (const line of parts.filter(Boolean)) {
          try {
            this.lines.push(JSON.parse(line) as LogLine);
          } catch {
            this.garbage.push(line);
          }
        }
      });
    };
    collect(this.child.stdout!);
    collect(this.child.stderr!);
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  logged(msg: string): LogLine[] {
    return this.lines.filter((l) => l.msg === msg);
  }

  /** SIGKILL: a crash or the OOM killer; resolves when the process is gone. */
  async kill(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM as systemd sends it; resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.running) this.child.kill('SIGTERM');
    return this.exited;
  }
}

export interface Mailbox {
  port: number;
  mails: ParsedMail[];
  logins: { user: string; password: string }[];
  close(): Promise<void>;
}

/** A real SMTP server on 127.0.0.1 (no TLS: settings say security "none") that requires a login. */
export async function startMailbox(): Promise<Mailbox> {
  const mails: ParsedMail[] = [];
  const logins: { user: string; password: string }[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      logins.push({ user: auth.username ?? '', password: auth.password ?? '' });
      if (auth.password === 'smtp-secret') callback(null, { user: auth.username });
      else callback(new Error('bad password'));
    },
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((mail) => {
          mails.push(mail);
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as { port: number }).port;
  return { port, mails, logins, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

