import type { Reload } from './plan.ts';
import type { RemoteSession } from './ssh-connection.ts';
import { sh } from './shell.ts';

/** The CLI command behind each reload. */
export const RELOAD_COMMANDS: Record<Reload, string> = {
  dialplan: 'dialplan reload',
  manager: 'manager reload',
  features: 'module reload features',
};

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

/** Runs `asterisk -rx <command>` on the host; a non-zero exit (Asterisk down, timeout) is an error with the reason. */
async function runCli(session: RemoteSession, command: string): Promise<string> {
  const r = await session.exec(sh`timeout ${CLI_TIMEOUT_SECONDS} asterisk -rx ${command}`);
  const output = r.stdout + r.stderr;
  if (r.code === 124) throw new Error(`'asterisk -rx "${command}"' did not answer within ${CLI_TIMEOUT_SECONDS}s`);
  if (r.code !== 0) throw new Error(`'asterisk -rx "${command}"' exited ${r.code ?? r.signal}: ${firstLine(output) || 'no output'}`);
  return output;
}

/** Runs one `asterisk -rx` command; returns its output, or throws with the reason Asterisk gave. */
async function asteriskCli(session: RemoteSession, command: string): Promise<string> {
  const output = await runCli(session, command);
  const failure = cliFailure(output);
  if (failure) throw new Error(`'${command}' failed: ${failure}`);
  return output;
}

/** Asks the running dialplan for its version; null when the mitschnitt context is not loaded. */
export async function runningDialplanVersion(session: RemoteSession): Promise<string | null> {
  return loadedVersion(await runCli(session, VERSION_COMMAND));
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/**
 * Reloads what changed, in order, then checks the dialplan really is the new one. Stops at the first failure:
 * the caller rolls back and reloads again.
 */
export async function reloadAndVerify(session: RemoteSession, reloads: Reload[], expectedVersion: string | null): Promise<VerifyResult> {
  try {
    for (const reload of reloads) await asteriskCli(session, RELOAD_COMMANDS[reload]);
    if (reloads.includes('dialplan') && expectedVersion) {
      const running = await runningDialplanVersion(session);
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
