import { readFileSync } from 'node:fs';
import { mkdir, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createFileExclusive } from './exclusive-file.ts';

/**
 * A lock file for cron batches (`deliver`, `expire`) so overlapping runs never work on the same items.
 * The file holds the owner's PID and the PID's start time (from /proc), so a lock left by a killed run is
 * recognised as stale even when the PID has been reused by an unrelated process.
 *
 * Breaking a stale lock is itself guarded by a second file (`<lock>.break`): without it, two runs that both
 * saw the same stale lock could each delete it, and the second would delete the lock the first just took.
 */

interface Owner {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot), null where /proc is unavailable. */
  start: string | null;
}

export type LockResult = { acquired: true; release: () => Promise<void> } | { acquired: false; holder: number | null };

export async function acquireBatchLock(path: string): Promise<LockResult> {
  await mkdir(dirname(path), { recursive: true });
  if (await createExclusive(path)) return { acquired: true, release: () => releaseLock(path) };

  const holder = await readOwner(path);
  if (holder && isAlive(holder)) return { acquired: false, holder: holder.pid };

  // The holder is gone: break the lock, but only while holding the break guard.
  const guard = `${path}.break`;
  if (!(await createExclusive(guard))) {
    const breaker = await readOwner(guard);
    // A breaker that died inside this tiny window leaves its guard behind; clear it and let the next run retry.
    if (!breaker || !isAlive(breaker)) await unlink(guard).catch(() => {});
    return { acquired: false, holder: breaker?.pid ?? null };
  }
  try {
    const again = await readOwner(path);
    if (again && isAlive(again)) return { acquired: false, holder: again.pid };
    await unlink(path).catch(() => {});
    if (await createExclusive(path)) return { acquired: true, release: () => releaseLock(path) };
    return { acquired: false, holder: (await readOwner(path))?.pid ?? null };
  } finally {
    await unlink(guard).catch(() => {});
  }
}

/** Our owner record, linked into place: the lock never exists half-written. */
function createExclusive(path: string): Promise<boolean> {
  return createFileExclusive(path, `${JSON.stringify(ownSelf())}\n`, 0o644);
}

async function releaseLock(path: string): Promise<void> {
  const owner = await readOwner(path);
  // Never remove a lock that is not ours (it could only be ours unless someone deleted it by hand).
  if (owner && owner.pid === process.pid) await unlink(path).catch(() => {});
}

async function readOwner(path: string): Promise<Owner | null> {
  try {
    const value = JSON.parse(await readFile(path, 'utf8')) as Partial<Owner>;
    return typeof value.pid === 'number' && Number.isInteger(value.pid) && value.pid > 0
      ? { pid: value.pid, start: typeof value.start === 'string' ? value.start : null }
      : null;
  } catch {
    return null;
  }
}

function ownSelf(): Owner {
  return { pid: process.pid, start: processStart(process.pid) };
}

function isAlive(owner: Owner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const start = processStart(owner.pid);
  return owner.start === null || start === null || start === owner.start;
}

function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}
