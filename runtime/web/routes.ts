import type { Policy } from '../../generator/policy.ts';
import type { CallControl } from '../call-control.ts';
import type { Route } from '../http-server.ts';
import type { Logger } from '../log.ts';
import { AuditLog, auditLogPath } from './audit-log.ts';
import { authRoutes } from './auth-api.ts';
import { callRoutes } from './calls-api.ts';
import { EventStreams } from './event-stream.ts';
import { JournalIndex } from './journal-index.ts';
import { FailureLimiter } from './rate-limit.ts';
import { recordingRoutes } from './recordings-api.ts';
import { SessionStore } from './sessions.ts';
import { staticRoutes } from './static-assets.ts';
import { api, signedIn, type WebContext } from './web-context.ts';

export interface WebDeps {
  /** The deployed policy (`<config>/policy.json`): users, view rights, rules, settings. */
  policy: Policy;
  log: Logger;
  /** The runtime's live call control (manual recording) and its journal hook. */
  calls: CallControl;
  /** Default: policy.settings.spool. */
  spool?: string;
  /** Default: policy.settings.secretsDir (holds web-users.json). */
  secretsDir?: string;
  /** How often the spool is rescanned for journals the hook did not announce (and for deleted ones). Default 60 s; 0 = never. */
  rescanIntervalMs?: number;
}

export interface WebClient {
  routes: Route[];
  index: JournalIndex;
  /** Resolves once the start-up spool scan is done. */
  ready: Promise<void>;
  /** Stops the rescan timer, ends event streams and unhooks from CallControl. */
  close(): void;
}

/** The web client: static page, JSON API, event stream; the runtime mounts `routes` next to its own. */
export function createWebClient(deps: WebDeps): WebClient {
  const spool = deps.spool ?? deps.policy.settings.spool;
  const index = new JournalIndex(spool, deps.log);
  const sessions = new SessionStore();
  const events = new EventStreams(sessions);
  const started = Date.now();
  // Normally only the day folders changed since the last run are read; a missing or damaged index is rebuilt.
  const ready = index.scan().then(
    ({ added, removed, daysListed }) =>
      deps.log.info(index.fresh ? 'web journal index built' : 'web journal index updated', {
        spool, file: index.file, recordings: index.size, added, removed, daysListed, ms: Date.now() - started,
      }),
    (err: unknown) => deps.log.error('web journal index scan failed', { spool, error: err }),
  );
  const ctx: WebContext = {
    policy: deps.policy,
    log: deps.log,
    calls: deps.calls,
    index,
    indexReady: ready,
    sessions,
    ipFailures: new FailureLimiter(),
    userFailures: new FailureLimiter(),
    audit: new AuditLog(auditLogPath(spool)),
    events,
    secretsDir: deps.secretsDir ?? deps.policy.settings.secretsDir,
  };

  const announce = async (journalPath: string) => {
    await ready;
    const added = await index.add(journalPath);
    if (added) events.journalAdded(added);
  };
  const unhookJournal = deps.calls.onJournal((path) => {
    announce(path).catch((err: unknown) => deps.log.warn('web index could not add journal', { journal: path, error: err }));
  });
  const unhookChange = deps.calls.onChange((userId) => events.callsChanged(userId));

  const interval = deps.rescanIntervalMs ?? 60_000;
  let rescanning = false;
  const timer =
    interval > 0
      ? setInterval(() => {
          // scan() hands a running walk to every caller: a tick during a long walk would announce its journals again.
          if (rescanning) return;
          rescanning = true;
          ready
            .then(() => index.scan((s) => events.journalAdded(s)))
            .catch((err: unknown) => deps.log.warn('web journal rescan failed', { spool, error: err }))
            .finally(() => (rescanning = false));
        }, interval)
      : undefined;
  timer?.unref();

  const routes: Route[] = [
    ...staticRoutes(),
    ...authRoutes(ctx),
    ...recordingRoutes(ctx),
    ...callRoutes(ctx),
    {
      method: 'GET',
      path: '/api/events',
      handler: api((req, res) => {
        const signed = signedIn(ctx, req, res, false);
        if (signed) events.open(res, signed.viewer, signed.session);
      }),
    },
  ];
  return {
    routes,
    index,
    ready,
    close() {
      if (timer) clearInterval(timer);
      unhookJournal();
      unhookChange();
      events.close();
      index.close();
    },
  };
}

/** The contract entry point: the web client's routes (timers are unref'd; use createWebClient to close them). */
export function webRoutes(deps: WebDeps): Route[] {
  return createWebClient(deps).routes;
}
