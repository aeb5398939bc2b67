/**
 * What the web client (and the SNOM key handler) may do with live calls. Implemented by the runtime on top of
 * the AMI session and the call tracker (runtime/manual-recording.ts); the web client only sees this interface.
 */
export interface ActiveCall {
  /** Stable id of the call for this user: the Uniqueid of the user's own channel. */
  id: string;
  userId: string;
  channel: string;
  peer: { number: string; name?: string };
  direction: 'inbound' | 'outbound';
  /** ISO-8601 time the user's channel appeared. */
  startedAt: string;
  recording: boolean;
  paused: boolean;
  /** Whether this user may start/stop/pause a recording of this call by hand (manual rule, never under deny). */
  manualAllowed: boolean;
}

export type ControlResult =
  | { ok: true; recording: boolean; paused: boolean }
  | { ok: false; reason: 'no-call' | 'not-allowed' | 'ami-error'; message: string };

export interface CallControl {
  activeCalls(userId: string): ActiveCall[];
  startRecording(userId: string, callId: string): Promise<ControlResult>;
  stopRecording(userId: string, callId: string): Promise<ControlResult>;
  setPaused(userId: string, callId: string, paused: boolean): Promise<ControlResult>;
  /** Called with the user id whenever one of that user's calls changes (new, gone, recording, paused). */
  onChange(listener: (userId: string) => void): () => void;
  /** Called with the absolute path of every journal written. */
  onJournal(listener: (journalPath: string) => void): () => void;
}
