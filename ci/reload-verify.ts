import { randomBytes } from 'node:crypto';
import type { Reload } from './plan.ts';
import type { RemoteSession } from './ssh-connection.ts';
import { sh } from './shell.ts';

/** The CLI command behind each reload. */
export const RELOAD_COMMANDS: Record<Reload, string> = {
  dialplan: 'dialplan reload',
  manager: 'manager reload',
  features: 'module reload features',
};

const RELOAD_COMMAND_LIST: string[] = Object.values(RELOAD_COMMANDS);

export const VERSION_COMMAND = 'dialplan show version@mitschnitt-check';

/**
 * `asterisk -rx` exits 0 even when the command failed, and `dialplan reload` prints "Dialplan reloaded." even when
 * the reload was refused. So success is judged from the output text (these are Asterisk 22's exact messages, see
 * /work/shared/asterisk-transcripts/cli-*.txt and main/pbx.c handle_show_dialplan, main/cli.c handle_reload) and, for the dialplan, from
 * the version the running dialplan reports afterwards.
 */
const FAILURE_TEXTS: RegExp[] = [
  /There is no existence of/,
  /^Command '.*' failed\./m,
  /reported a reload failure/,
  /^No such command/m,
  /Unable to connect to remote asterisk/,
  /^No such module '/m,
  /^The module '.*' (was not properly initialized|does not support reloads)/m,
  /^Asterisk cannot reload a module yet/m,
  /^A module reload request is already in progress/m,
];

/** The version hex of a generated dialplan (contract: `exten => version,1,NoOp(mitschnitt <16 hex>)`). */
export function dialplanVersion(extensionsConf: string): string | null {
  return /^exten\s*=>\s*version,1,NoOp\(mitschnitt ([0-9a-f]{16})\)/m.exec(extensionsConf)?.[1] ?? null;
}

/** The version the running dialplan reports in `dialplan show version@mitschnitt-check`, or null. */
export function loadedVersion(showOutput: string): string | null {
  return /NoOp\(mitschnitt ([0-9a-f]{16})\)/.exec(showOutput)?.[1] ?? null;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

/** The first line of an `asterisk -rx` output that says the command failed, or null. */
export function cliFailure(output: string): string | null {
  const failure = FAILURE_TEXTS.find((re) => re.test(output));
  if (!failure) return null;
  return output.split('\n').find((line) => failure.test(line)) ?? firstLine(output);
}

/** A wedged Asterisk can leave `asterisk -rx` hanging; coreutils `timeout` ends it (exit 124). */
const CLI_TIMEOUT_SECONDS = 60;

export interface CliAnswer {
  command: string;
  output: string;
  code: number;
}

/**
 * Runs `asterisk -rx` commands in order in one remote command: each command on a channel of its own would cost a login
 * shell and an sshd session process on the host, and a round trip. The remote shell stops after the first command that exits
 * non-zero and, when more follow (a reload before the next reload), after the first that prints a failure text, so
 * nothing runs after a failure that would not have run with one command at a time. Each answer is followed by a line
 * with a random token and the exit status, which no Asterisk output can imitate.
 */
export async function runCli(session: RemoteSession, commands: string[]): Promise<CliAnswer[]> {
  const token = `@@mitschnitt-${randomBytes(8).toString('hex')}`;
  // FAILURE_TEXTS are written to be valid POSIX extended regular expressions too (grep -E, one line at a time as /m).
  const failed = `grep -qE ${FAILURE_TEXTS.map((re) => sh`-e ${re.source}`).join(' ')}`;
  const script = commands.map((command, i) => [
    sh`o=$(timeout ${CLI_TIMEOUT_SECONDS} asterisk -rx ${command} 2>&1); c=$?`,
    sh`printf '%s\\n%s %s\\n' "$o" ${token} "$c"`,
    '[ "$c" = 0 ] || exit 0',
    ...(i < commands.length - 1 && RELOAD_COMMAND_LIST.includes(command) ? [`if printf '%s\\n' "$o" | ${failed}; then exit 0; fi`] : []),
  ].join('\n')).join('\n');
  const r = await session.exec(script);
  const parts = r.stdout.split(new RegExp(`^${token} (\\d+)\n`, 'm'));
  const answers: CliAnswer[] = [];
  for (let i = 0; i + 1 < parts.length && i / 2 < commands.length; i += 2) answers.push({ command: commands[i / 2]!, output: parts[i]!, code: Number(parts[i + 1]) });
  for (const a of answers) {
    if (a.code === 124) throw new Error(`'asterisk -rx "${a.command}"' did not answer within ${CLI_TIMEOUT_SECONDS}s`);
    if (a.code !== 0) throw new Error(`'asterisk -rx "${a.command}"' exited ${a.code}: ${firstLine(a.output) || 'no output'}`);
    if (cliFailure(a.output) === null || !RELOAD_COMMAND_LIST.includes(a.command)) continue;
    throw new Error(`'${a.command}' failed: ${cliFailure(a.output)}`);
  }
  if (answers.length < commands.length) {
    const detail = (r.stderr || r.stdout).trim().split('\n').slice(-2).join(' / ');
    throw new Error(`'asterisk -rx "${commands[answers.length]}"' did not run (exit ${r.code ?? r.signal})${detail ? `: ${detail}` : ''}`);
  }
  return answers;
}

/** Asks the running dialplan for its version; null when the mitschnitt context is not loaded. */
export async function runningDialplanVersion(session: RemoteSession): Promise<string | null> {
  const [answer] = await runCli(session, [VERSION_COMMAND]);
  return loadedVersion(answer!.output);
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/**
 * Reloads what changed, in order, then checks the dialplan really is the new one. Stops at the first failure:
 * the caller rolls back and reloads again.
 */
export async function reloadAndVerify(session: RemoteSession, reloads: Reload[], expectedVersion: string | null): Promise<VerifyResult> {
  const verify = reloads.includes('dialplan') && expectedVersion !== null;
  const commands = [...reloads.map((r) => RELOAD_COMMANDS[r]), ...(verify ? [VERSION_COMMAND] : [])];
  if (commands.length === 0) return { ok: true };
  try {
    const answers = await runCli(session, commands);
    if (verify) {
      const running = loadedVersion(answers[answers.length - 1]!.output);
      if (running !== expectedVersion) {
        return {
          ok: false,
          reason: running
            ? `Asterisk kept dialplan version ${running} instead of ${expectedVersion}: 'dialplan reload' was refused (see the Asterisk log, e.g. a missing #include or a syntax error)`
            : `the running dialplan has no mitschnitt-check context: does extensions.conf '#include extensions_mitschnitt.conf'? (else 'dialplan reload' was refused: see the Asterisk log)`,
        };
      }
    }
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}
