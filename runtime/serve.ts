import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { UserError } from '../bin/cli-support.ts';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AmiSession, type AmiSessionOptions } from './ami-session.ts';
import type { AmiMessage } from './ami-parser.ts';
import { CallFollower } from './call-follower.ts';
import { CallTracker, type ActiveRecording, type EndedRecording } from './call-tracker.ts';
import { createHttpServer, type Route } from './http-server.ts';
import { JournalFinisher, readPending } from './journal-finisher.ts';
import { journalPathFor, JournalWriter, stateDir } from './journal.ts';
import { createLogger, type Logger } from './log.ts';
import { RecordingControl } from './manual-recording.ts';
import { loadRuntimeConfig, parseListen } from './runtime-config.ts';
import { CallIdFinder, snomRecordRoute } from './snom-record.ts';
import { isSpoolRecording } from './recording-names.ts';
import { recoverSpool } from './spool-recovery.ts';
import { startSpoolSpaceMonitor, type SpaceThresholds } from './capacity.ts';

/** The UserEvent raised by the DTMF record feature (features_mitschnitt.conf, generator/render-features.ts). */
const RECORD_USER_EVENT = 'MitschnittRecordKey';

/** The dialplan's variables a journal is made of (read by Getvar at a resync when channelvars are not set up). */
const JOURNAL_VARS = ['MITSCHNITT_DECISION', 'MITSCHNITT_RULE', 'MITSCHNITT_CALLER', 'MITSCHNITT_CALLEE', 'MITSCHNITT_ORIGIN', 'MITSCHNITT_DIRECTION'];

export interface ServeOptions {
  configDir: string;
  /** Overrides settings.secretsDir. */
  secretsDir?: string;
  log?: Logger;
  verbose?: boolean;
  /** Overrides settings.http.listen (e.g. `127.0.0.1:0` in tests). */
  listen?: string;
  /** Overrides of the AMI connection (host/port and timings; tests use short ones). */
  ami?: Partial<Omit<AmiSessionOptions, 'log' | 'verbose' | 'secret' | 'username'>>;
  /** Mount the web client (runtime/web) next to the SNOM key; default true. */
  web?: boolean;
  settlePollMs?: number;
  /** A spool file must be untouched this long before the scan treats it as ended (default 10 s). */
  recoveryMinIdleMs?: number;
  /** How often the spool is scanned for recordings nobody journaled (default 5 min; 0 = only after each resync). */
  scanIntervalMs?: number;
  /** When the spool filesystem counts as running low (defaults: 2 GiB or 5 % free). */
  spaceThresholds?: SpaceThresholds;
  /** How long a bridge must stay unchanged before a moved call is judged again (default 200 ms). */
  moveSettleMs?: number;
}

export interface ServeHandle {
  port: number;
  tracker: CallTracker;
  control: RecordingControl;
  session: AmiSession;
  /** Resolves after each completed resync + spool scan (the promise is replaced on every reconnect). */
  synced(): Promise<void>;
  close(): Promise<void>;
}

/**
 * `mitschnitt serve`: AMI session → call tracker → journals; HTTP for the SNOM key and the web client. Survives
 * Asterisk restarts (reconnect + resync) and its own (spool scan for recordings that ended meanwhile).
 */
export async function startServe(o: ServeOptions): Promise<ServeHandle> {
  const log = o.log ?? createLogger({ verbose: o.verbose });
  const config = await loadRuntimeConfig(o.configDir, o.secretsDir);
  const { policy } = config;
  const spool = policy.settings.spool;
  try {
    // The admin creates the spool (README "On the PBX"); only our state folder is made here, non-recursively.
    await access(spool, constants.W_OK);
    await mkdir(stateDir(spool)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  } catch (err) {
    throw new UserError(`the spool ${spool} is not writable for this user: ${(err as Error).message} (see README "On the PBX")`);
  }
  const writer = await JournalWriter.open(spool);

  let control: RecordingControl;
  let follower: CallFollower;
  let callIds: CallIdFinder;
  /** Sidecar writes in flight, by audio path (a journal waits for its recording's). */
  const starting = new Map<string, Promise<void>>();
  const ours = (file: string) => isSpoolRecording(spool, file);
  const finisher = new JournalFinisher({
    spool,
    configDir: config.dir,
    policy,
    writer,
    log,
    ...(o.settlePollMs !== undefined ? { settlePollMs: o.settlePollMs } : {}),
    onJournal: (path) => control.notifyJournal(path),
  });
  const background = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>, what: string) => {
    const guarded = p.catch((err: unknown) => log.error(`${what} failed`, { error: err }));
    background.add(guarded);
    void guarded.finally(() => background.delete(guarded));
  };

  const tracker: CallTracker = new CallTracker(
    {
      recordingStarted: (r) => {
        follower.recordingStarted(r);
        if (ours(r.file)) {
          const written = rememberStart(r);
          starting.set(r.file, written);
          track(written.finally(() => starting.delete(r.file)), 'writing the pending sidecar');
        }
      },
      recordingEnded: (e) => {
        if (ours(e.recording.file)) track(journal(e), 'journaling');
        else log.debug('recording outside the spool ended; not ours to journal', { audio: e.recording.file });
      },
      bridgeChanged: (bridge) => follower.bridgeChanged(bridge),
      objection: (ch) => {
        // The sidecars learn of the objection first: a crash now must not journal (or deliver) the audio as usual.
        for (const r of tracker.recordings.values()) if (r.objectedAt && ours(r.file)) track(finisher.writePending(recordingFacts(r)), 'noting the objection in the sidecar');
        track(follower.objection(ch), 'stopping the recordings of an objected call');
      },
      channelChanged: (ch): void => {
        if (!tracker.channels.has(ch.name)) return control.notifyChannelGone(ch);
        control.notifyCall(ch.name);
        // Answered on a phone with a record key: its Call-ID is known before the first press.
        if (ch.bridge && control.userOfChannel(ch)?.phones.length) callIds.learn(ch);
      },
    },
    (n) => Boolean(policy.numbers[n]),
  );

  const amiOptions: AmiSessionOptions = {
    host: policy.settings.ami.host,
    port: policy.settings.ami.port,
    username: policy.settings.ami.user,
    secret: config.amiSecret,
    log,
    verbose: o.verbose ?? false,
    ...o.ami,
  };
  const session = new AmiSession(amiOptions);
  // Actions that people wait for (the record key, the web button) get a connection of their own without events:
  // on the event connection their answers queue behind every event Asterisk sent before them, which took seconds
  // while 200 calls started at once (bench/engine.bench.ts).
  const actions = new AmiSession({ ...amiOptions, events: false });
  control = new RecordingControl({ ami: actions, tracker, policy, spool, log });
  callIds = new CallIdFinder(tracker, actions);
  follower = new CallFollower({ tracker, policy, control, log, ...(o.moveSettleMs !== undefined ? { settleMs: o.moveSettleMs } : {}) });

  async function rememberStart(r: ActiveRecording): Promise<void> {
    const existing = await readPending(spool, r.file);
    if (existing) {
      // Adopted after a restart: the sidecar knows when it really started and who was on the call before.
      r.startedAt = new Date(existing.start);
      for (const [k, v] of Object.entries(existing.vars)) if (!r.vars.get(k)) r.vars.set(k, v);
      const before = existing.participants.filter((p) => !r.participants.some((q) => q.number === p.number));
      r.participants.unshift(...before);
      if (existing.decision === 'manual' && r.origin === 'dialplan') r.origin = 'manual';
      if (existing.previousPart && !r.previousPart) r.previousPart = existing.previousPart;
      return;
    }
    await finisher.writePending(recordingFacts(r));
  }

  /** What the sidecar (at start) and the journal (at the end) know of a tracked recording. */
  function recordingFacts(r: ActiveRecording) {
    return {
      audioPath: r.file,
      start: r.startedAt,
      channel: r.channel,
      uniqueid: r.uniqueid,
      linkedid: r.linkedid,
      vars: mitschnittVars(r),
      participants: r.participants,
      ...(r.origin === 'manual' ? { decision: 'manual' as const } : {}),
      ...(r.previousPart ? { previousPart: r.previousPart } : {}),
      ...(r.objectedAt ? { objectedAt: r.objectedAt } : {}),
    };
  }

  async function journal(e: EndedRecording): Promise<void> {
    // A short call can end before its sidecar is on disk: let that write land first, or it would outlive the journal.
    await starting.get(e.recording.file)?.catch(() => undefined);
    await finisher.finish({ ...recordingFacts(e.recording), end: e.endedAt });
  }

  // ---------------------------------------------------------------- AMI → tracker, resync, spool scan
  let syncedNow: Promise<void> = new Promise(() => undefined);
  let markSynced: () => void = () => undefined;
  const resetSynced = () => {
    syncedNow = new Promise<void>((resolve) => (markSynced = resolve));
  };
  resetSynced();

  session.on('event', (m: AmiMessage) => {
    tracker.handle(m);
    if (m.event === 'UserEvent' && m.get('UserEvent') === RECORD_USER_EVENT) track(recordKey(m), 'the record feature');
  });
  session.on('down', () => resetSynced());
  session.on('ready', () => track(resync(), 'resync after (re)connect'));

  async function recordKey(m: AmiMessage): Promise<void> {
    const ch = tracker.channels.get(m.get('Channel') ?? '');
    const user = ch && control.userOfChannel(ch);
    if (!ch || !user) return log.warn('record feature pressed on a channel of no known user', { channel: m.get('Channel') });
    const result = await control.toggle(user, ch);
    if (result.ok) log.info('record feature', { outcome: result.action, user: user.id, channel: ch.name });
    else log.warn('record feature', { outcome: result.reason, user: user.id, channel: ch.name, why: result.message });
  }

  async function resync(): Promise<void> {
    const list = await session.action('CoreShowChannels', {}, 15_000);
    tracker.resync(list.events);
    for (const ch of [...tracker.channels.values()]) {
      if (tracker.recordingsOn(ch.name).length > 0) continue;
      // channelvars (manager_mitschnitt.conf) bring MITSCHNITT_FILE with every event; without them, ask.
      let file = ch.vars.get('MITSCHNITT_FILE');
      let id = ch.vars.get('MITSCHNITT_MIXMON_ID');
      if (file === undefined) file = await getvar(ch.name, 'MITSCHNITT_FILE');
      if (!file) continue;
      if (id === undefined) id = await getvar(ch.name, 'MITSCHNITT_MIXMON_ID');
      if (!id || !ours(file)) continue;
      if (!(await exists(file)) || (await exists(journalPathFor(file)))) continue;
      for (const name of JOURNAL_VARS) if (!ch.vars.has(name)) ch.vars.set(name, await getvar(ch.name, name));
      const r = tracker.adoptRecording(ch.name, file, id, 'dialplan');
      if (r) log.info('recording in progress picked up', { audio: file, channel: ch.name });
    }
    log.info('AMI resync done', { channels: tracker.channels.size, recordings: tracker.recordings.size });
    await scan();
    markSynced();
  }

  async function getvar(channel: string, variable: string): Promise<string> {
    const r = await session.action('Getvar', { Channel: channel, Variable: variable }).catch(() => null);
    return r?.ok ? (r.message.get('Value') ?? '') : '';
  }

  // A recording that ended shortly before a crash is too fresh for the first scan to judge: rescan when it is
  // old enough, not only at the next periodic scan (README "Crash safety").
  let recheck: NodeJS.Timeout | null = null;
  let closing = false;
  const scan = async () => {
    const result = await recoverSpool({
      spool,
      finisher,
      log,
      isActive: (audio) => tracker.recordings.has(audio),
      ...(o.recoveryMinIdleMs !== undefined ? { minIdleMs: o.recoveryMinIdleMs } : {}),
    });
    if (result.recheckInMs !== undefined && !recheck && !closing) {
      recheck = setTimeout(() => {
        recheck = null;
        if (session.connected && !closing) track(scan(), 'spool rescan');
      }, result.recheckInMs);
      recheck.unref();
    }
    return result;
  };

  const scanEvery = o.scanIntervalMs ?? 300_000;
  const scanTimer = scanEvery > 0 ? setInterval(() => session.connected && track(scan(), 'spool scan'), scanEvery) : null;
  scanTimer?.unref();
  // A full disk loses recordings silently (MixMonitor just stops writing): warn while there is still time.
  const stopSpaceMonitor = startSpoolSpaceMonitor({ spool, log, ...o.spaceThresholds });

  // ---------------------------------------------------------------- HTTP
  const routes: Route[] = [snomRecordRoute({ policy, control, callIds, log })];
  let closeWeb: (() => void) | null = null;
  if (o.web !== false) {
    const web = await import('./web/routes.ts').catch((err: unknown) => {
      log.warn('web client not available; serving the SNOM key only', { error: err });
      return null;
    });
    if (web) {
      const client = web.createWebClient({ policy, log, calls: control, spool, ...(o.secretsDir ? { secretsDir: o.secretsDir } : {}) });
      routes.push(...client.routes);
      closeWeb = () => client.close();
    }
  }
  const server = createHttpServer(routes, log);
  const { host, port } = parseListen(o.listen ?? policy.settings.http.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const boundPort = (server.address() as AddressInfo).port;
  log.info('mitschnitt serve started', { host: policy.host, http: `${host}:${boundPort}`, ami: `${policy.settings.ami.host}:${policy.settings.ami.port}`, spool });
  session.start();
  actions.start();

  return {
    port: boundPort,
    tracker,
    control,
    session,
    synced: () => syncedNow,
    async close() {
      closing = true;
      if (scanTimer) clearInterval(scanTimer);
      if (recheck) clearTimeout(recheck);
      follower.close();
      stopSpaceMonitor();
      closeWeb?.();
      await closeServer(server);
      await Promise.all([session.stop(), actions.stop()]);
      // Recordings still running stay unjournaled on purpose: the next start picks them up (resync or scan).
      while (background.size > 0) await Promise.allSettled([...background]);
      await finisher.idle();
      log.info('mitschnitt serve stopped');
    },
  };
}

function mitschnittVars(r: ActiveRecording): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of r.vars) if (k.startsWith('MITSCHNITT_') && v) out[k] = v;
  return out;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
