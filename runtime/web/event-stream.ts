import type { ServerResponse } from 'node:http';
import { canView, type Viewer } from './access.ts';
import type { RecordingSummary } from './recording-summary.ts';
import type { Session, SessionStore } from './sessions.ts';

interface Client {
  viewer: Viewer;
  session: Session;
  res: ServerResponse;
}

const MAX_STREAMS_PER_SESSION = 4;

/**
 * Server-sent events to signed-in pages: `journal` (a recording the viewer may see was journaled) and `calls`
 * (one of the viewer's calls changed). Events only say *that* something changed; the page fetches the data
 * through the normal, authorised API.
 */
export class EventStreams {
  private readonly clients = new Set<Client>();
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly sessions: SessionStore,
    heartbeatMs = 25_000,
  ) {
    // The heartbeat also ends streams whose session expired or was signed out.
    this.heartbeat = setInterval(() => this.ping(), heartbeatMs);
    this.heartbeat.unref();
  }

  open(res: ServerResponse, viewer: Viewer, session: Session): void {
    const mine = [...this.clients].filter((c) => c.session === session);
    for (const old of mine.slice(0, Math.max(0, mine.length - MAX_STREAMS_PER_SESSION + 1))) this.drop(old);
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 3000\n\n');
    const client: Client = { viewer, session, res };
    this.clients.add(client);
    // The response's close covers both ends: the browser going away and our own end().
    res.on('close', () => this.clients.delete(client));
  }

  journalAdded(recording: RecordingSummary): void {
    for (const c of this.clients) if (canView(c.viewer, recording)) this.send(c, 'journal', { id: recording.id });
  }

  callsChanged(userId: string): void {
    for (const c of this.clients) if (c.viewer.userId === userId) this.send(c, 'calls', {});
  }

  /** Ends every stream of a session (sign-out). */
  endSession(session: Session): void {
    for (const c of this.clients) if (c.session === session) this.drop(c);
  }

  close(): void {
    clearInterval(this.heartbeat);
    for (const c of this.clients) this.drop(c);
  }

  get count(): number {
    return this.clients.size;
  }

  private send(c: Client, event: string, data: unknown): void {
    if (!this.sessions.alive(c.session)) return this.drop(c);
    c.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private ping(): void {
    for (const c of this.clients) {
      if (!this.sessions.alive(c.session)) this.drop(c);
      else c.res.write(': ping\n\n');
    }
  }

  private drop(c: Client): void {
    this.clients.delete(c);
    c.res.end();
  }
}
