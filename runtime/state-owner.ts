import { chown, stat } from 'node:fs/promises';
import { stateDir } from './journal.ts';

/**
 * The compliance commands may run as root (an admin's shell), but the files they write in `<spool>/.mitschnitt/`
 * (holds, verify state, audit and deletion logs) are read and appended by the runtime user: `expire` from cron
 * must read the holds, the web client the marks. So when root writes such a file, it is given to the owner of the
 * state folder, which the runtime created. Not root, or a state folder root owns: nothing to do.
 */
export async function giveToRuntime(spool: string, ...paths: string[]): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const owner = await stat(stateDir(spool)).catch(() => null);
  if (!owner || owner.uid === 0) return;
  for (const path of paths) {
    const st = await stat(path).catch(() => null);
    if (st && (st.uid !== owner.uid || st.gid !== owner.gid)) await chown(path, owner.uid, owner.gid);
  }
}
