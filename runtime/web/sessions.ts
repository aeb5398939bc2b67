import { randomBytes, timingSafeEqual } from 'node:crypto';

export interface Session {
  id: string;
  userId: string;
  /** Per-session CSRF token the page sends back in the X-CSRF-Token header on every state-changing request. */
  csrf: string;
  createdAt: number;
  lastSeenAt: number;
}

export interface SessionOptions {
  /** A session unused this long is gone. */
  idleMs?: number;
  /** A session older than this is gone however busy it is. */
  maxAgeMs?: number;
  /** Upper bound of live sessions; the least recently used go first (a login flood cannot exhaust memory). */
  maxSessions?: number;
  now?: () => number;
}

/** Server-side sessions in memory: the cookie holds only a random id; a restart signs everybody out. */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly idleMs: number;
  private readonly maxAgeMs: number;
  private readonly maxSessions: number;
  private readonly now: () => number;

  constructor(options: SessionOptions = {}) {
    this.idleMs = options.idleMs ?? 60 * 60_000;
    this.maxAgeMs = options.maxAgeMs ?? 12 * 60 * 60_000;
    this.maxSessions = options.maxSessions ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  create(userId: string): Session {
    this.sweep();
    while (this.sessions.size >= this.maxSessions) {
      // Map iteration order is insertion order and get() re-inserts: the first key is the least recently used.
      this.sessions.delete(this.sessions.keys().next().value!);
    }
    const now = this.now();
    const session: Session = {
      id: randomBytes(32).toString('base64url'),
      userId,
      csrf: randomBytes(32).toString('base64url'),
      createdAt: now,
      lastSeenAt: now,
    };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The live session for a cookie value, refreshed; undefined when unknown or expired. */
  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    const now = this.now();
    if (this.expired(session, now)) {
      this.sessions.delete(id);
      return undefined;
    }
    session.lastSeenAt = now;
    this.sessions.delete(id);
    this.sessions.set(id, session);
    return session;
  }

  /** Whether a session is still valid without refreshing it (long-lived event streams must not keep it alive). */
  alive(session: Session): boolean {
    return this.sessions.get(session.id) === session && !this.expired(session, this.now());
  }

  destroy(id: string): void {
    this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }

  private expired(session: Session, now: number): boolean {
    return now - session.lastSeenAt > this.idleMs || now - session.createdAt > this.maxAgeMs;
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, session] of this.sessions) if (this.expired(session, now)) this.sessions.delete(id);
  }
}

/** Constant-time comparison of the CSRF header with the session's token. */
export function csrfMatches(session: Session, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string') return false;
  const given = Buffer.from(header);
  const expected = Buffer.from(session.csrf);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
