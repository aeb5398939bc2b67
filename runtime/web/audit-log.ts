import { mkdir, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export type AuditAction =
  | 'login'
  | 'login-failed'
  | 'logout'
  | 'play'
  | 'download'
  | 'record-start'
  | 'record-stop'
  | 'record-pause'
  | 'record-resume'
  // Compliance commands on the PBX (user = the operating-system user who ran them, ip = "local"):
  | 'hold-add'
  | 'hold-release'
  | 'subject-list'
  | 'subject-export'
  | 'subject-erase'
  | 'verify';

/** One line of `<spool>/.mitschnitt/audit.log`. */
export interface AuditEntry {
  time: string;
  /** The signed-in user (for a failed login: the name that was tried). */
  user: string;
  action: AuditAction;
  /** Recording id (play, download). */
  recording?: string;
  /** Call id (record-*). */
  call?: string;
  /** Legal hold id (hold-*). */
  hold?: string;
  /** Why (hold-*, subject-erase), as the person running the command gave it. */
  reason?: string;
  /** What a compliance command was about or found, e.g. `number=+4930123456 recordings=3`. */
  detail?: string;
  ip: string;
  /** ok, or why not: denied, not-found, not-allowed, no-call, ami-error, rate-limited, error. */
  result: string;
}

export function auditLogPath(spool: string): string {
  return join(spool, '.mitschnitt', 'audit.log');
}

/**
 * Append-only audit trail: every entry is one JSON line, written with O_APPEND and fsynced before the action's
 * answer goes out, so an acknowledged play or recording start is on disk. Writes are serialised.
 */
export class AuditLog {
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {}

  append(entry: Omit<AuditEntry, 'time'>, now = new Date()): Promise<void> {
    const line = `${JSON.stringify({ time: now.toISOString(), ...entry })}\n`;
    const write = this.queue.then(async () => {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o750 });
      const file = await open(this.path, 'a', 0o640);
      try {
        await file.appendFile(line);
        await file.sync();
      } finally {
        await file.close();
      }
    });
    this.queue = write.catch(() => {});
    return write;
  }
}
