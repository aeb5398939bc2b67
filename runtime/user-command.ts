import { EXIT, parseFlags, UsageError, UserError, type Command } from '../bin/cli-support.ts';
import { DEFAULT_CONFIG_DIR, loadPolicy } from './delivery-config.ts';
import { hashPassword } from './web/password-hash.ts';
import { runtimeSecretOwner, storeWebUserHash, WebUsersFileError } from './web/web-users-file.ts';

const MIN_LENGTH = 8;
const MAX_LENGTH = 1024;

/** All of stdin (a pipe or file), without one trailing newline. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/**
 * Lines from the terminal without echo (raw mode), so a password never shows on screen or in scrollback.
 * Keystrokes that arrive ahead of a prompt (a paste of both lines) are kept for the next line.
 */
class HiddenTerminal {
  private pending = '';
  private waiter: { resolve(line: string): void; reject(err: Error): void } | undefined;
  private readonly onData = (data: Buffer) => {
    this.pending += data.toString('utf8');
    this.deliver();
  };

  constructor(private readonly stdin: NodeJS.ReadStream) {
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', this.onData);
  }

  line(prompt: string): Promise<string> {
    process.stderr.write(prompt);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.deliver();
    });
  }

  close(): void {
    this.stdin.off('data', this.onData);
    this.stdin.setRawMode(false);
    this.stdin.pause();
  }

  private deliver(): void {
    if (!this.waiter) return;
    let value = '';
    for (const [i, ch] of [...this.pending].entries()) {
      if (ch === '\u0003' || ch === '\u0004') return this.finish(new UserError('aborted, nothing changed'), '');
      if (ch === '\r' || ch === '\n') {
        this.pending = [...this.pending].slice(i + 1).join('').replace(/^\n/, '');
        return this.finish(undefined, value);
      }
      if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
      else if (ch >= ' ') value += ch;
    }
  }

  private finish(err: Error | undefined, value: string): void {
    const waiter = this.waiter!;
    this.waiter = undefined;
    process.stderr.write('\n');
    if (err) waiter.reject(err);
    else waiter.resolve(value);
  }
}

async function readPassword(fromStdin: boolean, userId: string): Promise<string> {
  if (fromStdin || !process.stdin.isTTY) return readStdin();
  const terminal = new HiddenTerminal(process.stdin);
  try {
    const first = await terminal.line(`New web password for ${userId}: `);
    const second = await terminal.line('Repeat it: ');
    if (first !== second) throw new UserError('the two passwords differ, nothing changed');
    return first;
  } finally {
    terminal.close();
  }
}

async function setPassword(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { config: { type: 'string' }, 'password-stdin': { type: 'boolean' } }, true);
  if (positionals.length !== 1) throw new UsageError('set-password needs exactly one user id');
  const userId = positionals[0];
  const policy = await loadPolicy(values.config ?? DEFAULT_CONFIG_DIR);
  if (typeof policy.users !== 'object' || !Object.hasOwn(policy.users, userId)) {
    const known = Object.keys(policy.users ?? {}).sort().join(', ') || 'none';
    throw new UserError(`no user '${userId}' in the deployed policy (users: ${known})`);
  }
  const password = await readPassword(values['password-stdin'] === true, userId);
  if ([...password].length < MIN_LENGTH) throw new UserError(`the password must have at least ${MIN_LENGTH} characters, nothing changed`);
  if (password.length > MAX_LENGTH) throw new UserError(`the password must have at most ${MAX_LENGTH} characters, nothing changed`);
  try {
    const { secretsDir } = policy.settings;
    const owner = await runtimeSecretOwner(secretsDir, policy.settings.ami.secret);
    const path = await storeWebUserHash(secretsDir, userId, await hashPassword(password), new Date(), owner);
    console.log(`web password for ${userId} stored (scrypt hash) in ${path}`);
  } catch (err) {
    if (err instanceof WebUsersFileError) throw new UserError(`${err.message}; nothing changed`);
    throw new UserError(`cannot store the password in ${policy.settings.secretsDir}: ${(err as Error).message}`);
  }
  return EXIT.ok;
}

export const userCommand: Command = {
  summary: 'Manage web client sign-in: set a user\'s password (stored as a scrypt hash in <secretsDir>/web-users.json, mode 0600).',
  usage:
    'mitschnitt user set-password ID [--config DIR] [--password-stdin]\n' +
    `  --config DIR        the deployed build (default ${DEFAULT_CONFIG_DIR}); ID must be a user of its policy\n` +
    '  --password-stdin    read the password from stdin (also used automatically when stdin is not a terminal)',
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub === 'set-password') return setPassword(rest);
    throw new UsageError(sub ? `unknown subcommand '${sub}'` : 'missing subcommand');
  },
};
