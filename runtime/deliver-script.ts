import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { Logger } from './log.ts';

export type ScriptOutcome = { ok: true } | { ok: false; error: string };

export interface ScriptJob {
  script: string;
  audioPath: string;
  journalPath: string;
  timeoutSeconds: number;
  /** Recording id, put on every log line the script causes. */
  id: string;
}

/** Lines a script may log per run; the rest is counted, not logged (a chatty script must not flood the journal). */
const MAX_LOG_LINES = 500;
const MAX_LINE_LENGTH = 2000;
/** After SIGTERM to the group, how long a script gets to clean up before SIGKILL. */
const KILL_GRACE_MS = 3000;
/** After the script exits, how long its output pipes may stay open (held by something it left running). */
const OUTPUT_DRAIN_MS = 2000;

/**
 * Runs `bash <script> <audio> <journal>`: an argv array, never a shell string, so paths with spaces, quotes
 * or `$(…)` reach the script as exactly two arguments. The script runs in its own process group so a timeout
 * also stops whatever it started.
 */
export async function runDeliveryScript(job: ScriptJob, log: Logger): Promise<ScriptOutcome> {
  // bash would only say "exit code 127"; name the real problem for the admin.
  if (!(await stat(job.script).then((s) => s.isFile(), () => false))) return { ok: false, error: `script not found: ${job.script}` };
  return new Promise((resolve) => {
    const child = spawn('bash', [job.script, job.audioPath, job.journalPath], {
      cwd: dirname(job.script),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let logged = 0;
    let dropped = 0;
    for (const [stream, name] of [[child.stdout, 'stdout'], [child.stderr, 'stderr']] as const) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        if (logged >= MAX_LOG_LINES) return void dropped++;
        logged++;
        log.info('delivery script output', { id: job.id, script: job.script, stream: name, line: line.slice(0, MAX_LINE_LENGTH) });
      });
    }

    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // The group is already gone.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
    }, job.timeoutSeconds * 1000);

    let settled = false;
    const finish = (outcome: ScriptOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      if (dropped > 0) log.warn('delivery script output truncated', { id: job.id, script: job.script, droppedLines: dropped });
      resolve(outcome);
    };
    child.on('error', (err) => finish({ ok: false, error: `cannot start bash: ${err.message}` }));
    let drainTimer: NodeJS.Timeout | undefined;
    child.on('exit', () => {
      if (timedOut) killGroup('SIGKILL');
      // Something the script started in the background may keep the pipes open: wait for them only briefly.
      drainTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, timedOut ? 0 : OUTPUT_DRAIN_MS);
    });
    child.on('close', (code, signal) => {
      clearTimeout(drainTimer);
      if (timedOut) finish({ ok: false, error: `timed out after ${job.timeoutSeconds} s (process group killed)` });
      else if (code === 0) finish({ ok: true });
      else finish({ ok: false, error: signal ? `killed by ${signal}` : `exit code ${code}` });
    });
  });
}
