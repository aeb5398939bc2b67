import { readFile, rename, stat, mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Policy } from '../generator/policy.ts';
import { acquireBatchLock } from './batch-lock.ts';
import { createMailer, isConnectionError, type Mailer } from './deliver-email.ts';
import { runDeliveryScript } from './deliver-script.ts';
import { readSecret } from './delivery-config.ts';
import {
  finishQueueItem,
  listQueue,
  queueDir,
  saveQueueItem,
  type Destination,
  type QueueItem,
} from './delivery-queue.ts';
import { stateDir, type Journal } from './journal.ts';
import type { Logger } from './log.ts';

export interface BatchOptions {
  policy: Policy;
  /** Overrides settings.secretsDir (tests, or secrets kept elsewhere). */
  secretsDir?: string;
  log: Logger;
  dryRun?: boolean;
  /** Process at most this many queue items. */
  limit?: number;
}

export interface BatchSummary {
  /** False when another run holds the lock: this run did nothing. */
  ran: boolean;
  /** Destinations delivered in this run. */
  sent: number;
  /** Destinations that failed in this run (retried later, or dead). */
  failed: number;
  /** Destinations not tried in this run because the mail server was unreachable or misconfigured. */
  deferred: number;
  /** Items still in the queue after this run. */
  pending: number;
  /** Items moved to the dead-letter folder in this run. */
  dead: number;
  /** Items in the dead-letter folder after this run (waiting for an admin). */
  deadTotal: number;
}

/** Delivers what the queue holds, one destination at a time, persisting each outcome before the next step. */
export async function runDeliveryBatch(options: BatchOptions): Promise<BatchSummary> {
  const { policy, log } = options;
  const spool = policy.settings.spool;
  const summary: BatchSummary = { ran: true, sent: 0, failed: 0, deferred: 0, pending: 0, dead: 0, deadTotal: 0 };

  const lock = options.dryRun ? null : await acquireBatchLock(join(stateDir(spool), 'deliver.lock'));
  if (lock && !lock.acquired) {
    log.info('another delivery run is in progress; this one does nothing', { holderPid: lock.holder });
    return { ...summary, ran: false };
  }
  const mail = new MailSession(options);
  try {
    const loaded = await listQueue(spool);
    for (const bad of loaded) {
      if (bad.ok) continue;
      log.error('unreadable delivery queue file moved to the dead-letter folder', { file: bad.file, error: bad.error });
      if (!options.dryRun) await moveToDead(spool, bad.file);
    }
    const items = loaded.flatMap((l) => (l.ok ? [l.item] : []));
    const todo = options.limit === undefined ? items : items.slice(0, options.limit);
    log.info('delivery batch started', { queued: items.length, processing: todo.length, dryRun: options.dryRun === true });

    let index = 0;
    for (const item of todo) {
      index++;
      const outcome = await deliverItem(item, options, mail, summary);
      if (outcome === 'dead') summary.dead++;
      log.info('delivery progress', { item: index, of: todo.length, id: item.id, outcome });
    }
  } finally {
    mail.close();
    if (lock?.acquired) await lock.release();
  }
  summary.pending = (await listQueue(spool)).length;
  summary.deadTotal = (await listQueue(spool, 'dead')).length;
  const { ran: _ran, ...figures } = summary;
  const level = summary.dead > 0 ? 'error' : summary.failed > 0 || summary.deferred > 0 ? 'warn' : 'info';
  log[level]('delivery batch finished', figures);
  return summary;
}

type ItemOutcome = 'delivered' | 'pending' | 'dead' | 'dry-run';

const JOURNAL_GRACE_MS = 60 * 60_000;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

async function deliverItem(item: QueueItem, options: BatchOptions, mail: MailSession, summary: BatchSummary): Promise<ItemOutcome> {
  const { policy, log } = options;
  const spool = policy.settings.spool;
  const maxAttempts = policy.settings.delivery.maxAttempts;

  // The runtime queues a recording just before it writes the journal (so a crash cannot lose the delivery);
  // a batch that lands in between waits for the next run instead of spending an attempt. After an hour a
  // missing journal is a real fault and goes through the normal attempts towards the dead-letter folder.
  if (Date.now() - Date.parse(item.enqueuedAt) < JOURNAL_GRACE_MS && (await exists(item.audio)) && !(await exists(item.journal))) {
    summary.deferred++;
    log.info('journal not written yet; delivery deferred to the next batch', { id: item.id, journal: item.journal });
    return 'pending';
  }

  for (const [index, destination] of item.destinations.entries()) {
    if (destination.done) continue;
    if (options.dryRun) {
      log.info('would deliver', { id: item.id, ...describe(destination), attempts: destination.attempts });
      continue;
    }
    const mailer = destination.kind === 'email' ? await mail.get() : null;
    if (destination.kind === 'email' && !mailer) {
      summary.deferred++;
      continue;
    }
    // The attempt is counted before it starts: an item that crashes the run every time still reaches the
    // dead-letter folder instead of blocking every later batch.
    destination.attempts++;
    destination.lastAttemptAt = new Date().toISOString();
    destination.lastError = 'interrupted: the delivery run ended during this attempt';
    await saveQueueItem(spool, item);
    const result = await attempt(item, index, destination, options, mailer);
    if (result === 'ok') {
      destination.done = true;
      destination.lastError = null;
      summary.sent++;
      log.info('delivered', { id: item.id, ...describe(destination), attempts: destination.attempts });
    } else {
      destination.lastError = result.error;
      summary.failed++;
      if (result.connection) mail.fail(new Error(result.error));
      log.warn('delivery failed; will retry on a later batch', {
        id: item.id, ...describe(destination), attempts: destination.attempts, maxAttempts, error: result.error,
      });
    }
    // Persist before the next destination: a crash from here on cannot repeat what just succeeded.
    await saveQueueItem(spool, item);
  }
  if (options.dryRun) return 'dry-run';

  if (item.destinations.every((d) => d.done)) {
    await finishQueueItem(spool, item, 'delivered');
    return 'delivered';
  }
  const exhausted = item.destinations.filter((d) => !d.done && d.attempts >= maxAttempts);
  if (exhausted.length > 0) {
    await finishQueueItem(spool, item, 'dead');
    log.error('DELIVERY GAVE UP: recording moved to the dead-letter folder; deliver it by hand or requeue it', {
      id: item.id,
      audio: item.audio,
      deadLetter: join(queueDir(spool, 'dead'), `${item.id}.json`),
      destinations: exhausted.map((d) => ({ ...describe(d), attempts: d.attempts, lastError: d.lastError })),
    });
    return 'dead';
  }
  return 'pending';
}

async function attempt(
  item: QueueItem,
  index: number,
  destination: Destination,
  options: BatchOptions,
  mailer: Mailer | null,
): Promise<'ok' | { error: string; connection?: true }> {
  const size = await stat(item.audio).then((s) => s.size, () => null);
  if (size === null) return { error: `audio file missing: ${item.audio}` };

  if (destination.kind === 'script') {
    const outcome = await runDeliveryScript(
      {
        script: destination.path,
        audioPath: item.audio,
        journalPath: item.journal,
        timeoutSeconds: options.policy.settings.delivery.scriptTimeoutSeconds,
        id: item.id,
      },
      options.log,
    );
    return outcome.ok ? 'ok' : { error: outcome.error };
  }

  let journal: Journal;
  try {
    journal = JSON.parse(await readFile(item.journal, 'utf8')) as Journal;
  } catch (err) {
    return { error: `cannot read journal ${item.journal}: ${(err as Error).message}` };
  }
  if (!mailer) return { error: 'no mail connection' };
  try {
    const { attached } = await mailer.send({
      to: destination.to,
      journal,
      audioPath: item.audio,
      sizeBytes: size,
      messageId: `<${item.id}.${index}@mitschnitt.${options.policy.host}>`,
    });
    if (!attached) options.log.info('recording too large to attach; the mail names its path', { id: item.id, sizeBytes: size });
    return 'ok';
  } catch (err) {
    const message = (err as Error).message;
    return isConnectionError(err) ? { error: `mail server: ${message}`, connection: true } : { error: message };
  }
}

/**
 * The batch's SMTP connection, opened on first use. When the server is unreachable or the settings are wrong,
 * the first mail counts a failed attempt and the rest of this batch's mails are deferred without one:
 * an outage must not push every recording towards the dead-letter folder.
 */
class MailSession {
  private mailer: Mailer | null = null;
  private broken: string | null = null;

  constructor(private readonly options: BatchOptions) {}

  async get(): Promise<Mailer | null> {
    if (this.broken) return null;
    if (this.mailer) return this.mailer;
    const { policy } = this.options;
    const smtp = policy.settings.smtp;
    if (!smtp) return this.fail(new Error('settings.smtp is missing but a rule delivers by e-mail'));
    let password: string | undefined;
    if (smtp.password) {
      try {
        password = await readSecret(this.options.secretsDir ?? policy.settings.secretsDir, smtp.password);
      } catch (err) {
        return this.fail(err as Error);
      }
    }
    this.mailer = createMailer(policy, smtp, password);
    return this.mailer;
  }

  fail(err: Error): null {
    this.broken = err.message;
    this.options.log.error('e-mail delivery unavailable for this batch; remaining mails wait for the next one', {
      error: err.message,
    });
    this.close();
    return null;
  }

  close(): void {
    this.mailer?.close();
    this.mailer = null;
  }
}

function describe(destination: Destination): Record<string, unknown> {
  return destination.kind === 'email'
    ? { destination: 'email', to: destination.to }
    : { destination: 'script', script: destination.path };
}

async function moveToDead(spool: string, file: string): Promise<void> {
  const dead = queueDir(spool, 'dead');
  await mkdir(dead, { recursive: true });
  await rename(file, join(dead, `${basename(file, '.json')}.unreadable`));
}
