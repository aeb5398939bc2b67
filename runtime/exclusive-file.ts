import { randomBytes } from 'node:crypto';
import { link, open, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Creates `path` holding `content` only if it does not exist yet, and never visible half-written: the bytes go
 * to a synced, hidden temp file beside it, which link(2) puts in place — link fails with EEXIST instead of
 * replacing, so create-if-absent is one atomic step. Returns false when the file already existed.
 */
export async function createFileExclusive(path: string, content: string, mode: number): Promise<boolean> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(temp).catch(() => {});
  }
}
