import { createReadStream } from 'node:fs';
import { retentionDaysFrom, type Retention } from '../generator/retention.ts';
import { access, readFile, rm, unlink } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { basename, join, relative } from 'node:path';
import { DeletionLog } from './deletion-log.ts';
import type { Policy, PolicyNumber } from '../generator/policy.ts';
import { enqueueDelivery } from './delivery-queue.ts';
import { atomicWrite, journalPathFor, stateDir, type Journal, type JournalDraft, type JournalWriter, type Party } from './journal.ts';
import type { Logger } from './log.ts';
import { recordingId } from './recording-names.ts';
import pLimit from 'p-limit';
import { closedByMixMonitor, readWavFile, type WavInfo } from './wav-header.ts';

/** What is known about a recording when it ends (live) or is found at start-up (recovered). */
export interface FinishedRecording {
  audioPath: string;
  start: Date;
  end: Date;
  channel: string;
  uniqueid: string;
  linkedid: string;
  /** MITSCHNITT_* channel variables of the recording channel (bare names). */
  vars: Record<string, string>;
  /** Parties seen on the call, the recording channel's own first. */
  participants: { number: string; name?: string }[];
  /** Overrides MITSCHNITT_DECISION (a recording the runtime started by hand is `manual`). */
  decision?: Journal['decision'];
  previousPart?: string;
  recovered?: boolean;
  /** The caller objected while this recording ran (a deny on the call): settings.objection says what happens. */
  objectedAt?: Date;
}

/** Written when a recording starts, so a restart still knows caller, callee and rule (`.mitschnitt/pending/<id>.json`). */
export type PendingSidecar = Omit<FinishedRecording, 'end' | 'start' | 'recovered' | 'objectedAt'> & { start: string; objectedAt?: string };

export interface JournalFinisherOptions {
  spool: string;
  configDir: string;
  policy: Policy;
  writer: JournalWriter;
  log: Logger;
  /** How often the file size is sampled while waiting for MixMonitor to close the file. */
  settlePollMs?: number;
  /** Give up waiting for a still-growing file after this long (it is journaled as it is, and logged). */
  settleMaxMs?: number;
  onJournal?(journalPath: string, journal: Journal): void;
}

/** Recordings shorter than this hold no conversation (unanswered calls with MixMonitor's `b` option). */
const MIN_AUDIO_SECONDS = 1;

/**
 * Turns an ended recording into its journal: waits until MixMonitor has closed the file (it does so after the
 * channel is gone), reads the duration from the WAV header, streams the SHA-256, writes the journal into the hash
 * chain, removes the pending sidecar and queues the rule's delivery. Header-only or sub-second recordings are
 * deleted and logged instead. Each audio file is handled once: a journal on disk means done.
 */
export class JournalFinisher {
  private readonly inFlight = new Map<string, Promise<string | null>>();
  /**
   * Hashing and the fsynced writes of settled recordings take a few slots in arrival order: when a burst of calls
   * hangs up together, the first journals are written first instead of every recording advancing in lockstep and
   * all of them finishing only when the whole burst is done (hang-up → journal stays short for each).
   */
  private readonly journalSlots = pLimit(16);

  constructor(private readonly o: JournalFinisherOptions) {}

  /** Resolves with the journal path, or null when the recording was discarded, missing or already journaled. */
  finish(rec: FinishedRecording): Promise<string | null> {
    const running = this.inFlight.get(rec.audioPath);
    if (running) return running;
    const p = this.run(rec).finally(() => this.inFlight.delete(rec.audioPath));
    this.inFlight.set(rec.audioPath, p);
    return p;
  }

  isFinishing(audioPath: string): boolean {
    return this.inFlight.has(audioPath);
  }

  /** Resolves when every journal in progress is written (for a clean shutdown). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.inFlight.values()]);
  }

  async writePending(rec: Omit<FinishedRecording, 'end'>): Promise<void> {
    const { recovered: _unused, objectedAt, ...rest } = rec;
    const sidecar: PendingSidecar = { ...rest, start: rec.start.toISOString(), ...(objectedAt ? { objectedAt: objectedAt.toISOString() } : {}) };
    await atomicWrite(pendingPath(this.o.spool, rec.audioPath), `${JSON.stringify(sidecar, null, 2)}\n`);
  }

  private async run(rec: FinishedRecording): Promise<string | null> {
    const { log } = this.o;
    const audio = rec.audioPath;
    const journalPath = journalPathFor(audio);
    if (await exists(journalPath)) {
      await rm(pendingPath(this.o.spool, audio), { force: true });
      return null;
    }
    const settled = await this.settle(audio);
    if (settled === null) {
      log.warn('recording file not found, nothing to journal', { audio, channel: rec.channel });
      await rm(pendingPath(this.o.spool, audio), { force: true });
      return null;
    }
    return this.journalSlots(() => this.journalSettled(rec, settled.size, settled.wav, journalPath));
  }

  /** The part of finishing that costs CPU and disk, for one settled recording at a time per slot (see journalSlots). */
  private async journalSettled(rec: FinishedRecording, size: number, wav: WavInfo | null, journalPath: string): Promise<string | null> {
    const { log } = this.o;
    const audio = rec.audioPath;
    if (!wav) {
      // Not ours to delete: keep it for a person to look at.
      log.error('recording is not a readable WAV file; left in place, not journaled', { audio, sizeBytes: size });
      return null;
    }
    if (wav.durationSeconds < MIN_AUDIO_SECONDS) {
      await unlink(audio).catch(() => undefined);
      await rm(pendingPath(this.o.spool, audio), { force: true });
      log.info('empty recording discarded', { audio, durationSeconds: wav.durationSeconds, channel: rec.channel });
      return null;
    }
    if (rec.objectedAt && this.objectionPolicy() === 'discard') return this.discardObjected(rec, wav.durationSeconds, size, journalPath);
    const draft = this.draft(rec, wav.durationSeconds, size, await sha256File(audio));
    // Queued before the journal exists: a crash in between leaves an unjournaled file, which the next start
    // journals and queues again (idempotent per id); the other order could lose the delivery for good.
    await this.enqueue(draft, audio, journalPath);
    const journal = await this.o.writer.write(journalPath, draft);
    await rm(pendingPath(this.o.spool, audio), { force: true });
    log.info(rec.recovered ? 'recording recovered and journaled' : 'recording journaled', {
      journal: journalPath, durationSeconds: journal.durationSeconds, rule: journal.rule, decision: journal.decision,
    });
    this.o.onJournal?.(journalPath, journal);
    return journalPath;
  }

  /** settings.objection: `discard` (default) or `keep`. */
  private objectionPolicy(): 'discard' | 'keep' {
    return (this.o.policy.settings as { objection?: string }).objection === 'keep' ? 'keep' : 'discard';
  }

  /**
   * The caller objected and settings.objection is `discard`: the audio is deleted — first logged in
   * deletions.log (fsynced, with the audio's SHA-256, as expire does), then unlinked — and the journal says so
   * (`audioDiscarded`, size 0, no sha256). Nothing is delivered. A crash before the unlink leaves audio without
   * a journal; the next scan does this again (the log may then name it twice, never zero times).
   */
  private async discardObjected(rec: FinishedRecording, durationSeconds: number, size: number, journalPath: string): Promise<string> {
    const audio = rec.audioPath;
    const draft = this.draft(rec, durationSeconds, 0, undefined);
    const log = await DeletionLog.open(this.o.spool);
    try {
      await log.append([{
        id: draft.id,
        sha256: await sha256File(audio),
        journalSha256: null,
        deletedAt: new Date().toISOString(),
        reason: 'objection',
        audio: relative(this.o.spool, audio),
        start: draft.start,
        retentionDays: draft.retentionDays,
      }]);
    } finally {
      await log.close();
    }
    await unlink(audio);
    draft.audioDiscarded = true;
    const journal = await this.o.writer.write(journalPath, draft);
    await rm(pendingPath(this.o.spool, audio), { force: true });
    this.o.log.info('recording discarded: the caller objected', { journal: journalPath, audio, sizeBytes: size, objectedAt: journal.objection?.at });
    this.o.onJournal?.(journalPath, journal);
    return journalPath;
  }

  /**
   * Waits until MixMonitor has closed the file. It writes the RIFF sizes only when it closes it, so a header that
   * matches a non-empty file is final at once; otherwise (an empty file, a header never finalised because Asterisk
   * died) the size must stay the same for `settlePollMs` × 8 (default 200 ms). Answers the size and the header
   * read with it (null header: not a WAV file), or null when the file is gone.
   */
  private async settle(audio: string): Promise<{ size: number; wav: WavInfo | null } | null> {
    const poll = (this.o.settlePollMs ?? 100) / 4;
    const deadline = Date.now() + (this.o.settleMaxMs ?? 10_000);
    let last = -1;
    let stableSince = Date.now();
    for (;;) {
      const file = await readWavFile(audio).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null;
        throw err;
      });
      if (!file) return null;
      const { size, info } = file;
      if (closedByMixMonitor(info)) return { size, wav: info };
      if (size !== last) {
        last = size;
        stableSince = Date.now();
      } else if (Date.now() - stableSince >= poll * 8) return { size, wav: info };
      if (Date.now() > deadline) {
        this.o.log.warn('recording still growing after the wait; journaling it as it is', { audio, sizeBytes: size });
        return { size, wav: info };
      }
      await new Promise((r) => setTimeout(r, poll));
    }
  }

  private draft(rec: FinishedRecording, durationSeconds: number, sizeBytes: number, sha256: string | undefined): JournalDraft {
    const { policy } = this.o;
    const v = rec.vars;
    const decision = rec.decision ?? (isDecision(v.MITSCHNITT_DECISION) ? v.MITSCHNITT_DECISION : 'auto');
    const rule = v.MITSCHNITT_RULE || null;
    const seen = rec.participants;
    const callerNumber = v.MITSCHNITT_CALLER || seen[0]?.number || '';
    const calleeNumber = v.MITSCHNITT_CALLEE || seen.find((p) => p.number !== callerNumber)?.number || '';
    const caller = this.party(callerNumber, seen);
    const callee = this.party(calleeNumber, seen);
    // Exactly who shared the recording's conversation (README "Calls that move"); the numbers the routine decided
    // for (a team line, a conference room) are caller and callee, not people in the bridge. Only when nobody was
    // seen (recovered without a sidecar) do caller and callee stand in.
    const participants: Party[] = [];
    for (const p of seen.length > 0 ? seen.map((s) => this.party(s.number, seen)) : [caller, callee]) {
      if (p.number && !participants.some((q) => q.number === p.number)) participants.push(p);
    }
    const internal = (n: string) => Boolean(policy.numbers[n]);
    const origin = v.MITSCHNITT_ORIGIN === 'internal' || v.MITSCHNITT_ORIGIN === 'external'
      ? v.MITSCHNITT_ORIGIN
      : internal(caller.number) && internal(callee.number) ? 'internal' : 'external';
    const direction = v.MITSCHNITT_DIRECTION === 'inbound' || v.MITSCHNITT_DIRECTION === 'outbound'
      ? v.MITSCHNITT_DIRECTION
      : this.ownNumber(caller.number) ? 'outbound' : 'inbound';
    const known = rule && Object.hasOwn(policy.rules, rule) ? policy.rules[rule] : undefined;
    const ruleRetention: Retention = known?.retentionDays ? known : { retentionDays: policy.settings.retentionDays };
    const draft: JournalDraft = {
      version: 1,
      id: recordingId(rec.audioPath),
      audio: basename(rec.audioPath),
      host: policy.host,
      start: rec.start.toISOString(),
      end: rec.end.toISOString(),
      durationSeconds,
      caller,
      callee,
      participants,
      direction,
      origin,
      decision,
      rule,
      sizeBytes,
      ...(sha256 !== undefined ? { sha256 } : {}),
      channel: rec.channel,
      uniqueid: rec.uniqueid,
      linkedid: rec.linkedid,
      retentionDays: retentionDaysFrom(rec.start, ruleRetention),
    };
    if (ruleRetention.retentionYears !== undefined) draft.retentionYears = ruleRetention.retentionYears;
    if (rec.recovered) draft.recovered = true;
    if (rec.previousPart) draft.previousPart = rec.previousPart;
    if (rec.objectedAt) draft.objection = { at: rec.objectedAt.toISOString() };
    return draft;
  }

  /** A number with the name and user id the policy knows for it (external numbers keep the caller-id name). */
  private party(number: string, seen: { number: string; name?: string }[]): Party {
    const known: PolicyNumber | undefined = this.o.policy.numbers[number];
    if (known) return known.kind === 'user' ? { number, name: known.name, userId: known.id } : { number, name: known.name };
    const name = seen.find((p) => p.number === number)?.name;
    return name ? { number, name } : { number };
  }

  private ownNumber(number: string): boolean {
    return this.o.policy.numbers[number]?.host === this.o.policy.host;
  }

  private async enqueue(journal: JournalDraft, audio: string, journalPath: string): Promise<void> {
    const rule = journal.rule ? this.o.policy.rules[journal.rule] : undefined;
    const email = rule?.deliver.email?.length ? rule.deliver.email : undefined;
    const script = rule?.deliver.script ? join(this.o.configDir, rule.deliver.script) : undefined;
    if (!email && !script) return;
    try {
      await enqueueDelivery(this.o.spool, { id: journal.id, audio, journal: journalPath, rule: journal.rule, ...(email ? { email } : {}), ...(script ? { script } : {}) });
    } catch (err) {
      // The journal exists; `deliver` cannot find it by itself, so say loudly what to redo.
      this.o.log.error('could not queue delivery', { journal: journalPath, rule: journal.rule, error: err });
    }
  }
}

export function pendingPath(spool: string, audioPath: string): string {
  return join(stateDir(spool), 'pending', `${recordingId(audioPath)}.json`);
}

export async function readPending(spool: string, audioPath: string): Promise<PendingSidecar | null> {
  try {
    return JSON.parse(await readFile(pendingPath(spool, audioPath), 'utf8')) as PendingSidecar;
  } catch {
    return null;
  }
}

function isDecision(v: string | undefined): v is Journal['decision'] {
  return v === 'auto' || v === 'force' || v === 'manual';
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path, { highWaterMark: 1 << 20 })
      .on('data', (d) => hash.update(d))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}
