// The web client as `mitschnitt serve` runs it (createWebClient + the runtime's HTTP server), in its own process so
// bench/journal-index.bench.ts can time its start and read its memory. Two bench-only routes: POST /bench/journal
// writes one journal with the runtime's JournalWriter and announces it through the journal hook (as the runtime's
// JournalFinisher does), POST /bench/rescan runs the periodic rescan; GET /bench/memory answers RSS, its peak, and when the start-up scan finished (ms since the process started).
// argv: spool secrets policy.json
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Policy } from '../generator/policy.ts';
import { createHttpServer, type Route } from '../runtime/http-server.ts';
import { JournalWriter } from '../runtime/journal.ts';
import { silentLogger } from '../runtime/log.ts';
import { createWebClient } from '../runtime/web/routes.ts';
import { MemoryCallControl } from '../test/web/support.ts';

const [spool, secrets, policyFile] = process.argv.slice(2);
const policy = JSON.parse(readFileSync(policyFile, 'utf8')) as Policy;
const calls = new MemoryCallControl();
const web = createWebClient({ policy, log: silentLogger, calls, spool, secretsDir: secrets, rescanIntervalMs: 0 });
const writer = await JournalWriter.open(spool);
let readyAfterMs: number | null = null;
void web.ready.then(() => (readyAfterMs = process.uptime() * 1000));
let n = 0;

const json = (res: ServerResponse, body: unknown) => {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
};
const peakKb = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);

const bench: Route[] = [
  {
    method: 'POST',
    path: '/bench/journal',
    handler: async (_req: IncomingMessage, res: ServerResponse) => {
      const start = new Date();
      const epoch = Math.floor(start.getTime() / 1000);
      const id = `${epoch}.${900_000_000 + ++n}-${epoch}`;
      const pad = (v: number) => String(v).padStart(2, '0');
      const path = join(spool, String(start.getFullYear()), pad(start.getMonth() + 1), pad(start.getDate()), `${id}.json`);
      const me = { number: '1005', name: 'User 5', userId: 'u5' };
      await writer.write(path, {
        version: 1, id, audio: `${id}.wav`, host: 'pbx-test', start: start.toISOString(), end: start.toISOString(), durationSeconds: 60,
        caller: me, callee: { number: '030999999' }, participants: [me, { number: '030999999' }], direction: 'outbound', origin: 'external',
        decision: 'auto', rule: 'sales-external', sizeBytes: 960_044, sha256: '0'.repeat(64), channel: 'PJSIP/x', uniqueid: id, linkedid: id, retentionDays: 90,
      });
      calls.emitJournal(path);
      json(res, { id });
    },
  },
  {
    method: 'POST',
    path: '/bench/rescan',
    handler: async (_req: IncomingMessage, res: ServerResponse) => {
      const t = performance.now();
      const result = await web.index.scan();
      json(res, { ms: performance.now() - t, ...result });
    },
  },
  {
    method: 'GET',
    path: '/bench/memory',
    handler: (_req: IncomingMessage, res: ServerResponse) => json(res, { rssMB: process.memoryUsage().rss / 1048576, peakMB: peakKb() / 1024, readyAfterMs }),
  },
];

const server = createHttpServer([...web.routes, ...bench], silentLogger);
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`));
process.on('SIGTERM', () => {
  web.close();
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
