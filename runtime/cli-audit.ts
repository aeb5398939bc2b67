import { userInfo } from 'node:os';
import { giveToRuntime } from './state-owner.ts';
import { UserError } from '../bin/cli-support.ts';
import { AuditLog, auditLogPath, type AuditEntry } from './web/audit-log.ts';

/**
 * Audit lines of the compliance commands, in the same append-only log as the web client's (`mitschnitt audit`
 * shows both). The user is who ran the command: under sudo the invoking user, not root.
 */
export function operator(): string {
  const sudo = process.env.SUDO_USER;
  if (sudo && /^[a-z_][a-z0-9_.-]{0,31}$/i.test(sudo)) return sudo;
  try {
    return userInfo().username;
  } catch {
    return `uid:${process.getuid?.() ?? '?'}`;
  }
}

/** Appends after the action was done; a log that cannot be written is an error the operator sees (exit 1), not a stack trace. */
export async function appendCliAudit(spool: string, entry: Omit<AuditEntry, 'time' | 'user' | 'ip'> & { user?: string }): Promise<void> {
  const path = auditLogPath(spool);
  try {
    await new AuditLog(path).append({ user: entry.user ?? operator(), ip: 'local', ...entry });
    await giveToRuntime(spool, path);
  } catch (err) {
    throw new UserError(`${entry.action} was done, but the audit log ${path} could not be written: ${(err as Error).message}`);
  }
}
