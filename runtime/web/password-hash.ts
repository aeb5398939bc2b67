import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

// scrypt with N = 2^15, r = 8, p = 1 (OWASP's recommended minimum); stored PHC-like so the cost can rise later
// without breaking existing hashes: `scrypt$ln=15,r=8,p=1$<salt base64>$<hash base64>`.
const DEFAULT = { ln: 15, r: 8, p: 1 };
const KEY_LENGTH = 32;
const FORMAT = /^scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

function derive(password: string, salt: Buffer, ln: number, r: number, p: number, length: number): Promise<Buffer> {
  const N = 2 ** ln;
  // Node refuses scrypt above 32 MiB unless maxmem is raised; 128·N·r bytes are needed.
  const options: ScryptOptions = { N, r, p, maxmem: 256 * N * r };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, length, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, DEFAULT.ln, DEFAULT.r, DEFAULT.p, KEY_LENGTH);
  return `scrypt$ln=${DEFAULT.ln},r=${DEFAULT.r},p=${DEFAULT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export function isPasswordHash(value: unknown): value is string {
  return typeof value === 'string' && FORMAT.test(value);
}

// A fixed hash to verify against when the user has no password, so that "unknown user" and "wrong password"
// take the same time and cannot be told apart.
const DUMMY = `scrypt$ln=${DEFAULT.ln},r=${DEFAULT.r},p=${DEFAULT.p}$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(KEY_LENGTH).toString('base64')}`;

/** Constant-time check of a password against a stored hash; undefined or malformed hashes never match. */
export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  const usable = stored !== undefined && isPasswordHash(stored);
  const m = FORMAT.exec(usable ? stored : DUMMY)!;
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (ln < 10 || ln > 20 || r < 1 || r > 32 || p < 1 || p > 16) return false;
  const salt = Buffer.from(m[4], 'base64');
  const expected = Buffer.from(m[5], 'base64');
  if (expected.length < 16) return false;
  const key = await derive(password, salt, ln, r, p, expected.length);
  return timingSafeEqual(key, expected) && usable;
}
