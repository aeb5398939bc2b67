import { randomBytes } from 'node:crypto';
import { access, mkdir, open, readFile, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createFileExclusive } from './exclusive-file.ts';
import { stateDir } from './journal.ts';

/**
 * The durable delivery queue: one JSON file per recording in `<spool>/.mitschnitt/queue/<id>.json`.
 * Every destination (one e-mail recipient list, one script) carries its own state, persisted atomically
 * after each attempt, so a crash re-sends at most the destination that was in flight.
 * Fully delivered items move to `delivered/` (kept until `expire` deletes the recording: it makes
 * enqueueing idempotent for the recording's whole life); items that exhausted their attempts move to `dead/`.
 */

export interface DeliveryRequest {
  /** Base name of the recording (`<UNIQUEID>-<EPOCH>`), also the queue file's name. */
  id: string;
  /** Absolute path of the audio file. */
  audio: string;
  /** Absolute path of the journal. */
  journal: string;
  rule: string | null;
  email?: string[];
  /** Absolute path of the delivery script. */
  script?: string;
}

interface DestinationState {
  done: boolean;
  attempts: number;
  lastError: string | null;
  /** ISO time of the last attempt (success or failure). */
  lastAttemptAt: string | null;
}

export type Destination =
  | ({ kind: 'email'; to: string[] } & DestinationState)
  | ({ kind: 'script'; path: string } & DestinationState);

export interface QueueItem {
  version: 1;
  id: string;
  audio: string;
  journal: string;
  rule: string | null;
  enqueuedAt: string;
  destinations: Destination[];
}

/** Where a queue item lives: waiting (queue/), fully delivered (delivered/) or given up (dead/). */
export type QueueState = 'queue' | 'delivered' | 'dead';

export function queueDir(spool: string, state: QueueState = 'queue'): string {
  return join(stateDir(spool), state);
}

/** Recording ids become file names: only the characters Asterisk uniqueids and epochs use. */
const SAFE_ID = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$/;

export function isSafeId(id: string): boolean {
  return SAFE_ID.test(id) && !id.includes('..');
}

/**
 * Puts a recording into the delivery queue. Idempotent per id: if the id is already queued, delivered
 * or dead, nothing changes and `false` is returned. The file appears atomically (complete or not at all).
 */
export async function enqueueDelivery(spool: string, request: DeliveryRequest, now = new Date()): Promise<boolean> {
  const item = newQueueItem(request, now);
  const dir = queueDir(spool);
  await mkdir(dir, { recursive: true });
  for (const state of ['delivered', 'dead'] as const) {
    if (await exists(join(queueDir(spool, state), `${item.id}.json`))) return false;
  }
  // Create-if-absent: a second enqueue of the same id never resets the attempt state of the first.
  const created = await createFileExclusive(join(dir, `${item.id}.json`), `${JSON.stringify(item, null, 2)}\n`, 0o640);
  if (created) await fsyncDir(dir);
  return created;
}

export function newQueueItem(request: DeliveryRequest, now: Date): QueueItem {
  if (!isSafeId(request.id)) throw new Error(`delivery queue: unsafe recording id ${JSON.stringify(request.id)}`);
  for (const [name, path] of [['audio', request.audio], ['journal', request.journal], ['script', request.script]] as const) {
    if (path !== undefined && !path.startsWith('/')) throw new Error(`delivery queue: ${name} path must be absolute: ${path}`);
  }
  const fresh: DestinationState = { done: false, attempts: 0, lastError: null, lastAttemptAt: null };
  const destinations: Destination[] = [];
  if (request.email && request.email.length > 0) destinations.push({ kind: 'email', to: [...request.email], ...fresh });
  if (request.script) destinations.push({ kind: 'script', path: request.script, ...fresh });
  if (destinations.length === 0) throw new Error(`delivery queue: recording ${request.id} has no destination`);
  return {
    version: 1,
    id: request.id,
    audio: request.audio,
    journal: request.journal,
    rule: request.rule,
    enqueuedAt: now.toISOString(),
    destinations,
  };
}

/** Replaces a queue item's state atomically (temp file, fsync, rename, fsync of the folder). */
export async function saveQueueItem(spool: string, item: QueueItem, state: QueueState = 'queue'): Promise<void> {
  const dir = queueDir(spool, state);
  await mkdir(dir, { recursive: true });
  const temp = await writeTemp(dir, item);
  await rename(temp, join(dir, `${item.id}.json`));
  await fsyncDir(dir);
}

/** Moves an item from queue/ to delivered/ or dead/, writing its final state first. */
export async function finishQueueItem(spool: string, item: QueueItem, to: 'delivered' | 'dead'): Promise<void> {
  await saveQueueItem(spool, item, to);
  const stale = [join(queueDir(spool), `${item.id}.json`)];
  // A requeue interrupted by a crash can leave a dead copy behind; once delivered, it is obsolete.
  if (to === 'delivered') stale.push(join(queueDir(spool, 'dead'), `${item.id}.json`));
  for (const path of stale) {
    await unlink(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
  await fsyncDir(queueDir(spool));
}

/**
 * Moves dead letters back into the queue with fresh attempt counts for their undelivered destinations (after an
 * admin fixed the cause). Destinations already delivered stay done. `ids` empty = all. Returns the ids requeued.
 */
export async function requeueDead(spool: string, ids: string[] = []): Promise<string[]> {
  const wanted = new Set(ids);
  const requeued: string[] = [];
  for (const loaded of await listQueue(spool, 'dead')) {
    if (!loaded.ok || (wanted.size > 0 && !wanted.has(loaded.item.id))) continue;
    const item = loaded.item;
    for (const d of item.destinations) if (!d.done) Object.assign(d, { attempts: 0, lastError: null });
    // Written to the queue first, then removed from dead/: a crash in between leaves it in both, never in neither.
    await saveQueueItem(spool, item, 'queue');
    await unlink(join(queueDir(spool, 'dead'), `${item.id}.json`));
    requeued.push(item.id);
  }
  await fsyncDir(queueDir(spool, 'dead')).catch(() => {});
  return requeued;
}

export type LoadedItem = { ok: true; item: QueueItem } | { ok: false; file: string; error: string };

/** Reads every item in one queue folder, sorted by enqueue time then id; unreadable files are reported, never dropped. */
export async function listQueue(spool: string, state: QueueState = 'queue'): Promise<LoadedItem[]> {
  const dir = queueDir(spool, state);
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const loaded = await Promise.all(names.map((name) => loadQueueItem(join(dir, name))));
  const key = (l: LoadedItem) => (l.ok ? `${l.item.enqueuedAt} ${l.item.id}` : `~${l.file}`);
  return loaded.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Ids of the items in one queue folder, from the file names alone (cheap: used by expire). */
export async function queuedIds(spool: string, state: QueueState): Promise<Set<string>> {
  try {
    const names = await readdir(queueDir(spool, state));
    return new Set(names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).map((n) => n.slice(0, -'.json'.length)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Set();
    throw err;
  }
}

async function loadQueueItem(file: string): Promise<LoadedItem> {
  try {
    const value: unknown = JSON.parse(await readFile(file, 'utf8'));
    const problem = queueItemProblem(value);
    return problem ? { ok: false, file, error: problem } : { ok: true, item: value as QueueItem };
  } catch (err) {
    return { ok: false, file, error: (err as Error).message };
  }
}

function queueItemProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return 'not a JSON object';
  const v = value as Record<string, unknown>;
  if (v.version !== 1) return 'unknown version';
  if (typeof v.id !== 'string' || !isSafeId(v.id)) return 'missing or unsafe id';
  if (typeof v.audio !== 'string' || typeof v.journal !== 'string') return 'missing audio or journal path';
  if (!Array.isArray(v.destinations) || v.destinations.length === 0) return 'no destinations';
  for (const d of v.destinations as Record<string, unknown>[]) {
    const typed =
      (d?.kind === 'email' && Array.isArray(d.to) && d.to.every((t) => typeof t === 'string')) ||
      (d?.kind === 'script' && typeof d.path === 'string');
    if (!typed || typeof d.done !== 'boolean' || typeof d.attempts !== 'number') return 'malformed destination';
  }
  return null;
}

async function writeTemp(dir: string, item: QueueItem): Promise<string> {
  const temp = join(dir, `.${item.id}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o640);
  try {
    await handle.writeFile(`${JSON.stringify(item, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return temp;
}

/**
 * Makes a rename/link inside `dir` durable across a power cut. One fsync serves a burst: a caller that arrives
 * while one runs waits for the next, which starts after it and so covers every entry made before it started;
 * callers arriving before that next one starts share it. Two fsyncs for a burst of enqueues instead of one each.
 */
export function fsyncDir(dir: string): Promise<void> {
  const state = dirSyncs.get(dir) ?? { notStarted: null, last: Promise.resolve() };
  if (state.notStarted) return state.notStarted;
  const sync = state.last.catch(() => undefined).then(() => {
    state.notStarted = null;
    return syncOnce(dir);
  });
  state.notStarted = sync;
  state.last = sync;
  dirSyncs.set(dir, state);
  void sync.finally(() => {
    if (dirSyncs.get(dir)?.last === sync) dirSyncs.delete(dir);
  }).catch(() => undefined);
  return sync;
}

const dirSyncs = new Map<string, { notStarted: Promise<void> | null; last: Promise<void> }>();

async function syncOnce(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
