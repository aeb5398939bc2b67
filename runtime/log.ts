import type { Writable } from 'node:stream';

/** Structured logger: every call writes one JSON object per line (journald-friendly). */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface LoggerOptions {
  /** Also write `debug` lines (AMI traffic, request details). */
  verbose?: boolean;
  /** Where lines go; default stdout (systemd puts it into the journal). */
  stream?: Writable;
}

type Level = 'debug' | 'info' | 'warn' | 'error';

export function createLogger(options: LoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stdout;
  const write = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (level === 'debug' && !options.verbose) return;
    // Fields come first so a field called msg/level/time can never hide the real ones.
    const line = { ...fields, time: new Date().toISOString(), level, msg };
    stream.write(`${safeStringify(line)}\n`);
  };
  return {
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
  };
}

/** A logger that drops everything: for library callers and tests that do not care. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** JSON.stringify that turns Errors into their message and never throws on cycles or BigInt. */
function safeStringify(value: Record<string, unknown>): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Error) return v.message;
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'object' && v !== null) {
      if (seen.has(v)) return '[circular]';
      seen.add(v);
    }
    return v;
  });
}
