// Shared by the moving-calls engine tests: the bundled company on a real Asterisk with serve attached, calls
// that move by SIPp phones and AMI actions, and the journals they leave.
import * as assert from 'uvu/assert';
import type { Journal } from '../../runtime/journal.ts';
import type { AmiMessage } from '../../runtime/ami-parser.ts';
import type { TestAmi } from './asterisk-instance.ts';
import { startEnginePbx, type EnginePbx, type EnginePbxOptions } from './engine-pbx.ts';
import { SippPhone, type Step } from './sip-phones.ts';
import { waitFor } from '../support/wait-for.ts';

export const EXTERNAL = '0301234567';
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Anna's phone, and the carrier's side of her external call (the leg an operator moves to put the customer through). */
export const ANNA = /^PJSIP\/201-/;
export const CARRIER = new RegExp(`^Local/${EXTERNAL}@to-carrier-.*;1$`);

export class MovingCalls {
  phones: SippPhone[] = [];
  private constructor(readonly pbx: EnginePbx, readonly ami: TestAmi) {}

  static async start(o: EnginePbxOptions = {}): Promise<MovingCalls> {
    const pbx = await startEnginePbx(o);
    await pbx.startServe();
    return new MovingCalls(pbx, await pbx.ast.ami());
  }

  async stop(): Promise<void> {
    await Promise.all(this.phones.map((p) => p.kill()));
    this.ami?.close();
    await this.pbx?.stop();
  }

  /** Kills the phones of the last call (a test that failed half-way must not leave them to the next one). */
  async hangUpAll(): Promise<void> {
    await this.ami.action('Hangup', { Channel: '/^(PJSIP|Local)\\//' }).catch(() => undefined);
    await Promise.all(this.phones.map((p) => p.kill()));
    this.phones = [];
    await sleep(300);
  }

  answer(ext: string, steps: Step[] = [{ awaitBye: true }], ringMs?: number, extra: { noAnswer?: boolean } = {}): Promise<SippPhone> {
    return SippPhone.answer({ ext, port: this.pbx.phonePorts[ext]!, steps, ...(ringMs ? { ringMs } : {}), ...extra }).then((p) => (this.phones.push(p), p));
  }

  dial(from: string, to: string, steps: Step[]): Promise<SippPhone> {
    return SippPhone.call(this.pbx.ast.sipPort, { from, to, steps }).then((p) => (this.phones.push(p), p));
  }

  /** Anna calls the customer (recorded by sales-external); once they are bridged they talk `talkMs` before the test moves the call. */
  async annaCallsOut(talkMs: number, steps: Step[] = [{ audio: true }, { awaitBye: true }]): Promise<SippPhone> {
    const anna = await this.dial('201', EXTERNAL, steps);
    await this.together(ANNA, CARRIER);
    await sleep(talkMs);
    return anna;
  }

  /** A customer's call from outside: through the carrier trunk endpoint into `[from-trunk]`. */
  dialIn(from: string, to: string, steps: Step[]): Promise<SippPhone> {
    return SippPhone.call(this.pbx.ast.sipPort, { from, to, steps, header: 'X-Trunk: carrier' }).then((p) => (this.phones.push(p), p));
  }

  /**
   * An external caller (the carrier) calling `to` through `[from-trunk]`: a Local channel whose `;2` half runs
   * the admin's trunk context with the caller's number, while `;1` plays the carrier (Echo).
   */
  async inbound(to: string, callerNumber = EXTERNAL): Promise<void> {
    const r = await this.ami.action('Originate', { Channel: `Local/${to}@from-trunk`, Application: 'Echo', CallerID: `"Kunde" <${callerNumber}>`, Async: 'true' });
    if (!r.ok) throw new Error(`Originate failed: ${r.message.get('Message')}`);
  }

  /** Channels alive now (CoreShowChannels). */
  async channels(): Promise<string[]> {
    const list = await this.ami.action('CoreShowChannels', {}, 10_000);
    return list.events.map((e) => e.get('Channel') ?? '').filter(Boolean);
  }

  async channel(pattern: RegExp, what = String(pattern), timeoutMs = 15_000): Promise<string> {
    return waitFor(what, async () => (await this.channels()).find((n) => pattern.test(n)), { timeoutMs, pollMs: ENGINE_POLL_MS });
  }

  async waitEvent(match: (m: AmiMessage) => boolean, what: string, since = 0, timeoutMs = 20_000): Promise<AmiMessage> {
    return this.ami.waitFor(match, timeoutMs, what, since);
  }

  /** Waits until `a` and `b` (channel name patterns) share a bridge. */
  async together(a: RegExp, b: RegExp, timeoutMs = 20_000): Promise<void> {
    let seen = '';
    await waitFor(`${a} bridged with ${b}`, async () => {
      const list = await this.ami.action('CoreShowChannels', {}, 10_000);
      seen = list.events.map((e) => `${e.get('Channel')}@${e.get('BridgeId') || '-'}(${e.get('Application')})`).join(' ');
      const bridgeOf = (p: RegExp) => list.events.filter((e) => p.test(e.get('Channel') ?? '')).map((e) => e.get('BridgeId')).filter(Boolean);
      return bridgeOf(a).some((x) => bridgeOf(b).includes(x));
    }, { timeoutMs, pollMs: ENGINE_POLL_MS, context: () => `; channels: ${seen}; phones: ${this.phones.map((p) => p.stderr.slice(0, 300)).join(' | ')}` });
  }

  /** The journals written after `before` journals existed, once there are `count` of them and serve is quiet. */
  async newJournals(before: number, count: number, timeoutMs = 30_000): Promise<Journal[]> {
    const got = await waitFor(`${count} new journal(s)`, () => {
      const all = this.pbx.journals();
      return all.length >= before + count ? all : undefined;
    }, { timeoutMs, pollMs: ENGINE_POLL_MS, context: () => this.serveTail() });
    await sleep(1500); // a wrong extra part would show up now
    const all = this.pbx.journals();
    if (all.length !== got.length) throw new Error(`expected ${count} new journal(s), got ${all.length - before}: ${JSON.stringify(all.slice(before).map(summary))}`);
    return all.slice(before);
  }

  serveTail(): string {
    return JSON.stringify(this.pbx.serve?.lines.filter((l) => l.level !== 'debug').slice(-12));
  }
}

/** What a journal says in one line (for messages). */
export function summary(j: Journal): string {
  return `${j.id} ${j.caller.number}->${j.callee.number} ${j.decision}/${j.rule} [${j.participants.map((p) => p.number).join(',')}] ${j.durationSeconds}s prev=${j.previousPart ?? '-'}`;
}

/** The engine tests' checks ask Asterisk or read what it wrote: every 150 ms is often enough. */
export const ENGINE_POLL_MS = 150;

export const numbers = (j: Journal) => j.participants.map((p) => p.number).sort();

/** The customer's call moved from Anna to Ben: part 1 customer ↔ Anna, part 2 customer ↔ Ben, linked to part 1. */
export function assertMovedFromAnnaToBen(first: Journal | undefined, second: Journal | undefined): void {
  assert.ok(first && second, 'two parts');
  assert.equal(numbers(first), ['0301234567', '201'], summary(first));
  assert.equal(numbers(second), ['0301234567', '202'], summary(second));
  assert.is(second.previousPart, first.id);
}
