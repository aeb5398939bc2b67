import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isPasswordHash } from './password-hash.ts';

/**
 * `<secretsDir>/web-users.json`: the web users' password hashes, kept on the PBX only (never in git).
 * Format: `{ "version": 1, "users": { "<user id>": { "hash": "scrypt$…", "changed": "<ISO time>" } } }`.
 */
export interface WebUsersFile {
  version: 1;
  users: Record<string, { hash: string; changed: string }>;
}

export const WEB_USERS_FILE = 'web-users.json';

export class WebUsersFileError extends Error {}

/** Reads the file; a missing file means nobody has a password yet. A damaged file is an error, never "empty". */
export async function readWebUsers(secretsDir: string): Promise<WebUsersFile> {
  const path = join(secretsDir, WEB_USERS_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, users: {} };
    throw new WebUsersFileError(`cannot read ${path}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new WebUsersFileError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  const users = (data as { users?: unknown } | null)?.users;
  if (typeof data !== 'object' || data === null || (data as { version?: unknown }).version !== 1 || typeof users !== 'object' || users === null || Array.isArray(users)) {
    throw new WebUsersFileError(`${path} does not look like a mitschnitt web users file (version 1)`);
  }
  const out: WebUsersFile = { version: 1, users: {} };
  for (const [id, entry] of Object.entries(users as Record<string, unknown>)) {
    const hash = (entry as { hash?: unknown } | null)?.hash;
    const changed = (entry as { changed?: unknown } | null)?.changed;
    if (!isPasswordHash(hash)) throw new WebUsersFileError(`${path}: user '${id}' has no valid scrypt hash`);
    out.users[id] = { hash, changed: typeof changed === 'string' ? changed : '' };
  }
  return out;
}

/**
 * Stores one user's hash: temp file (mode 0600) + fsync + rename, so readers see the old or the new file, never half.
 * `owner`: the account the file is given to (the runtime's, which must read it; see runtimeSecretOwner).
 */
export async function storeWebUserHash(secretsDir: string, userId: string, hash: string, now = new Date(), owner?: { uid: number; gid: number }): Promise<string> {
  await mkdir(secretsDir, { recursive: true, mode: 0o700 });
  const current = await readWebUsers(secretsDir);
  const users = { ...current.users, [userId]: { hash, changed: now.toISOString() } };
  const sorted = Object.fromEntries(Object.keys(users).sort().map((k) => [k, users[k]]));
  const path = join(secretsDir, WEB_USERS_FILE);
  const temp = join(secretsDir, `.${WEB_USERS_FILE}.${randomBytes(6).toString('hex')}.tmp`);
  const file = await open(temp, 'wx', 0o600);
  try {
    await file.writeFile(`${JSON.stringify({ version: 1, users: sorted }, null, 2)}\n`);
    await file.chmod(0o600); // the umask may have narrowed it further, never widened; make it exact
    if (owner) await file.chown(owner.uid, owner.gid);
    await file.sync();
    await file.close();
    await rename(temp, path);
  } catch (err) {
    await file.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw err;
  }
  return path;
}

/**
 * Whom web-users.json must belong to when root writes it: the admin runs `user set-password` as root, but the
 * service runs as its own user (systemd `User=mitschnitt`) and must read the file. That account owns the existing
 * file, or else the AMI secret, which deploy gives to the runtime user and without which serve cannot start.
 * Undefined when not root (the file then belongs to the writer) or when neither file exists.
 */
export async function runtimeSecretOwner(secretsDir: string, amiSecretName: string): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of [WEB_USERS_FILE, amiSecretName]) {
    const st = await stat(join(secretsDir, name)).catch(() => undefined);
    if (st?.isFile()) return { uid: st.uid, gid: st.gid };
  }
  return undefined;
}
