import { EventEmitter } from 'node:events';
import net from 'node:net';
import { AmiConnection, AmiError, type AmiResponse } from './ami-client.ts';
import type { AmiMessage } from './ami-parser.ts';
import type { Logger } from './log.ts';

export interface AmiSessionOptions {
  host: string;
  port: number;
  username: string;
  secret: string;
  log: Logger;
  /** Log every AMI block sent and received (debug level; the secret is masked). */
  verbose?: boolean;
  actionTimeoutMs?: number;
  /** Ping interval; a Ping without answer within the action timeout drops the connection. */
  heartbeatMs?: number;
  /** Reconnect backoff: first delay, doubling up to the maximum. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  connectTimeoutMs?: number;
  /** Whether Asterisk sends this connection events (default true); a connection for actions only says no. */
  events?: boolean;
}

export interface AmiSessionEvents {
  /** Logged in (first time or after a reconnect): the moment to resync state. */
  ready: [];
  /** The connection is gone; a reconnect is scheduled. */
  down: [reason: string];
  event: [message: AmiMessage];
}

/**
 * A self-healing AMI session: connect, log in, heartbeat, reconnect with exponential backoff. A failed login or
 * an unreachable Asterisk is a log line and a retry, never an exception. Our own client over `net` (not
 * asterisk-manager 0.2.0: silent login failures, no timeouts, no promises, unmaintained) — the protocol is small.
 */
export class AmiSession extends EventEmitter<AmiSessionEvents> {
  private connection: AmiConnection | null = null;
  private loggedIn = false;
  private stopped = true;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private readonly o: Required<Omit<AmiSessionOptions, 'verbose'>> & { verbose: boolean };

  constructor(options: AmiSessionOptions) {
    super();
    this.o = {
      actionTimeoutMs: 5000,
      heartbeatMs: 20_000,
      reconnectMinMs: 500,
      reconnectMaxMs: 30_000,
      connectTimeoutMs: 5000,
      events: true,
      verbose: false,
      ...options,
    };
  }

  get connected(): boolean {
    return this.loggedIn;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.stopHeartbeat();
    const c = this.connection;
    this.connection = null;
    this.loggedIn = false;
    if (c) {
      await c.action('Logoff', {}, 500).catch(() => undefined);
      c.destroy();
    }
  }

  /** Sends an action on the live session; rejects with AmiError when not logged in or on timeout. */
  action(name: string, fields: Record<string, string> = {}, timeoutMs = this.o.actionTimeoutMs): Promise<AmiResponse> {
    if (!this.connection || !this.loggedIn) return Promise.reject(new AmiError(`AMI ${name}: not connected to Asterisk`));
    return this.connection.action(name, fields, timeoutMs);
  }

  private connect(): void {
    if (this.stopped) return;
    const { host, port, log } = this.o;
    const socket = net.connect({ host, port });
    socket.setNoDelay(true);
    socket.setTimeout(this.o.connectTimeoutMs, () => socket.destroy(new Error('connect timeout')));
    let failure = '';
    socket.on('error', (err) => (failure = err.message));
    const connection = new AmiConnection(
      socket,
      log,
      {
        onEvent: (m) => this.emit('event', m),
        onBanner: (banner) => {
          socket.setTimeout(0);
          if (!banner.startsWith('Asterisk Call Manager/')) log.warn('AMI: unexpected banner', { banner });
          void this.login(connection);
        },
        onClose: () => this.onClose(connection, failure),
      },
      this.o.verbose,
    );
    this.connection = connection;
  }

  private async login(connection: AmiConnection): Promise<void> {
    const { host, port, username, secret, log } = this.o;
    try {
      const r = await connection.action('Login', { Username: username, Secret: secret, Events: this.o.events ? 'on' : 'off' }, Math.max(this.o.actionTimeoutMs, 3000));
      if (!r.ok) {
        log.error('AMI login failed: check the AMI user and its secret file', {
          host, port, user: username, answer: r.message.get('Message') ?? r.message.response,
        });
        connection.destroy();
        return;
      }
    } catch (err) {
      log.error('AMI login got no answer', { host, port, error: (err as Error).message });
      connection.destroy();
      return;
    }
    if (connection !== this.connection) return;
    this.loggedIn = true;
    this.attempt = 0;
    log.info('AMI connected', { host, port, user: username, ...(this.o.events ? {} : { events: false }) });
    this.startHeartbeat(connection);
    this.emit('ready');
  }

  private startHeartbeat(connection: AmiConnection): void {
    this.stopHeartbeat();
    this.heartbeat = setInterval(() => {
      connection.action('Ping', {}, this.o.actionTimeoutMs).catch((err: Error) => {
        this.o.log.warn('AMI heartbeat failed, reconnecting', { error: err.message });
        connection.destroy();
      });
    }, this.o.heartbeatMs);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private onClose(connection: AmiConnection, failure: string): void {
    if (connection !== this.connection) return;
    const wasUp = this.loggedIn;
    this.loggedIn = false;
    this.connection = null;
    this.stopHeartbeat();
    if (this.stopped) return;
    const delay = Math.min(this.o.reconnectMaxMs, this.o.reconnectMinMs * 2 ** this.attempt);
    this.attempt++;
    const reason = failure || 'connection closed';
    const fields = { host: this.o.host, port: this.o.port, reason, retryInMs: delay, ...(this.o.events ? {} : { events: false }) };
    if (wasUp) this.o.log.warn('AMI connection lost', fields);
    else if (this.attempt === 1 || this.attempt % 10 === 0) this.o.log.warn('AMI not reachable', { ...fields, attempt: this.attempt });
    if (wasUp) this.emit('down', reason);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }
}
