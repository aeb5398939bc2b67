import type net from 'node:net';
import { AmiMessage, AmiParser, formatAction } from './ami-parser.ts';
import type { Logger } from './log.ts';

/** The answer to one action: the response block and, for EventList actions, the list's events. */
export interface AmiResponse {
  ok: boolean;
  message: AmiMessage;
  /** Events of an EventList answer (e.g. CoreShowChannel), without the closing `…Complete` event. */
  events: AmiMessage[];
}

/** The action could not be answered: timeout, connection lost, not connected. */
export class AmiError extends Error {}

interface Pending {
  resolve(r: AmiResponse): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
  response?: AmiMessage;
  events: AmiMessage[];
}

/**
 * One logged-in-or-not AMI connection over a socket: sends actions with a unique ActionID, correlates responses
 * (and EventList events) to them, rejects an action that gets no answer within its timeout, and hands every other
 * event to `onEvent`. No reconnection here: that is AmiSession's job.
 */
export class AmiConnection {
  private readonly parser = new AmiParser();
  private readonly pending = new Map<string, Pending>();
  private counter = 0;
  private closed = false;
  banner: string | null = null;

  constructor(
    private readonly socket: net.Socket,
    private readonly log: Logger,
    private readonly hooks: { onEvent(m: AmiMessage): void; onBanner(banner: string): void; onClose(): void },
    private readonly verbose = false,
  ) {
    socket.on('data', (chunk) => this.receive(chunk));
    socket.on('close', () => this.close('connection closed'));
    socket.on('error', () => undefined); // 'close' follows and does the cleanup
  }

  action(name: string, fields: Record<string, string> = {}, timeoutMs = 5000): Promise<AmiResponse> {
    if (this.closed) return Promise.reject(new AmiError(`AMI ${name}: not connected`));
    const actionId = `m${++this.counter}`;
    const headers: [string, string][] = [['Action', name], ['ActionID', actionId], ...Object.entries(fields)];
    const text = formatAction(headers);
    if (this.verbose) this.log.debug('ami send', { action: name, headers: redact(headers) });
    return new Promise<AmiResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(actionId);
        reject(new AmiError(`AMI ${name}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(actionId, { resolve, reject, timer, events: [] });
      this.socket.write(text);
    });
  }

  destroy(): void {
    this.socket.destroy();
    this.close('connection closed');
  }

  private receive(chunk: Buffer): void {
    const { banner, messages } = this.parser.feed(chunk);
    if (banner !== undefined) {
      this.banner = banner;
      this.hooks.onBanner(banner);
    }
    for (const m of messages) {
      if (this.verbose) this.log.debug('ami recv', { headers: m.headers });
      this.route(m);
    }
  }

  private route(m: AmiMessage): void {
    const id = m.actionId;
    const pending = id !== undefined ? this.pending.get(id) : undefined;
    if (m.event === undefined) {
      if (!pending || id === undefined) return; // a response to nobody (e.g. an action sent without ActionID)
      if (m.get('EventList')?.toLowerCase() === 'start') {
        pending.response = m;
        return;
      }
      this.settle(id, pending, m);
      return;
    }
    if (pending?.response) {
      if (m.get('EventList')?.toLowerCase() === 'complete') this.settle(id!, pending, pending.response);
      else pending.events.push(m);
      return;
    }
    this.hooks.onEvent(m);
  }

  private settle(id: string, pending: Pending, response: AmiMessage): void {
    clearTimeout(pending.timer);
    this.pending.delete(id);
    const ok = /^(success|goodbye|follows)$/i.test(response.response ?? '');
    pending.resolve({ ok, message: response, events: pending.events });
  }

  private close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new AmiError(`AMI action ${id}: ${reason}`));
    }
    this.pending.clear();
    this.hooks.onClose();
  }
}

/** Never log the AMI secret, also not in verbose mode. */
function redact(headers: [string, string][]): [string, string][] {
  return headers.map(([k, v]) => [k, /^secret$/i.test(k) ? '***' : v]);
}
