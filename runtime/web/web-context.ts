import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Policy } from '../../generator/policy.ts';
import type { CallControl } from '../call-control.ts';
import type { Logger } from '../log.ts';
import { viewerFor, type Viewer } from './access.ts';
import type { AuditLog } from './audit-log.ts';
import type { EventStreams } from './event-stream.ts';
import { applySecurityHeaders, BadRequest, parseCookies, sendError } from './http-util.ts';
import type { JournalIndex } from './journal-index.ts';
import type { FailureLimiter } from './rate-limit.ts';
import { csrfMatches, type Session, type SessionStore } from './sessions.ts';

export const SESSION_COOKIE = 'mitschnitt_session';

/** Everything the web API handlers share. */
export interface WebContext {
  policy: Policy;
  log: Logger;
  calls: CallControl;
  index: JournalIndex;
  /** Resolves when the start-up scan of the spool is done (lists wait for it, so they are never half). */
  indexReady: Promise<void>;
  sessions: SessionStore;
  ipFailures: FailureLimiter;
  userFailures: FailureLimiter;
  audit: AuditLog;
  events: EventStreams;
  secretsDir: string;
}

export interface Signed {
  session: Session;
  viewer: Viewer;
}

/** The request's live session of a user who is (still) in the policy; undefined when there is none. */
export function sessionOf(ctx: WebContext, req: IncomingMessage): Signed | undefined {
  const session = ctx.sessions.get(parseCookies(req.headers.cookie).get(SESSION_COOKIE));
  const viewer = session && viewerFor(ctx.policy, session.userId);
  return session && viewer ? { session, viewer } : undefined;
}

/**
 * The gate of every API route: a live session of a user who is (still) in the policy, and for state-changing
 * requests the session's CSRF token in X-CSRF-Token. Answers 401/403 itself and returns undefined when refused.
 */
export function signedIn(ctx: WebContext, req: IncomingMessage, res: ServerResponse, changesState: boolean): Signed | undefined {
  const signed = sessionOf(ctx, req);
  if (!signed) {
    sendError(res, 401, 'not-signed-in', 'Please sign in.');
    return undefined;
  }
  if (changesState && !csrfMatches(signed.session, req.headers['x-csrf-token'])) {
    sendError(res, 403, 'csrf', 'Missing or wrong X-CSRF-Token header.');
    return undefined;
  }
  return signed;
}

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[]) => void | Promise<void>;

/** Security headers on every API answer, and request mistakes turned into JSON errors instead of 500s. */
export function api(handler: Handler): Handler {
  return async (req, res, params) => {
    applySecurityHeaders(res, true);
    try {
      await handler(req, res, params);
    } catch (err) {
      if (err instanceof BadRequest && !res.headersSent) return sendError(res, err.status, 'bad-request', err.message);
      throw err;
    }
  };
}
