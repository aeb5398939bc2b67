import { parseArgs, type ParseArgsConfig } from 'node:util';
import { fileURLToPath } from 'node:url';

/** Exit codes of the public contract. */
export const EXIT = { ok: 0, invalid: 1, usage: 2 } as const;

/** A mistake in how the command was called: printed with the usage, exit 2. */
export class UsageError extends Error {}

/** A mistake in the user's input or a failed check: printed as it is, exit 1. */
export class UserError extends Error {}

/** The bundled example rules, the default for every command. */
export const BUNDLED_RULES = fileURLToPath(new URL('../rules', import.meta.url));

export interface Command {
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs with our error type: unknown flags and missing values are usage errors. */
export function parseFlags<O extends Options>(argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
