// A local SMTP server (smtp-server on 127.0.0.1) in its own process for the delivery benchmark: it accepts every
// mail like a local MTA would, reads it to the end, and counts the Message-IDs (to find mails sent twice).
// Run by bench/delivery-batch.bench.ts; prints `{"port":N}` once listening, answers `stats` on stdin with JSON, `reset` forgets the counts.
import { SMTPServer } from 'smtp-server';
import { createInterface } from 'node:readline';

const ids = new Map<string, number>();
let bytes = 0;
const server = new SMTPServer({
  disabledCommands: ['STARTTLS', 'AUTH'],
  authOptional: true,
  logger: false,
  size: 100 * 1024 * 1024,
  onData(stream, _session, callback) {
    let head = '';
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (head.length < 8192) head += chunk.toString('latin1');
    });
    stream.on('end', () => {
      const id = /^Message-ID:\s*(<[^>]*>)/im.exec(head)?.[1] ?? '(none)';
      ids.set(id, (ids.get(id) ?? 0) + 1);
      callback();
    });
  },
});
// A client killed mid-mail resets its connection: normal in the kill run, not a reason to stop.
server.on('error', () => undefined);
server.listen(0, '127.0.0.1', () => {
  const address = server.server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'stats') {
    const twice = [...ids.values()].filter((n) => n > 1).length;
    const total = [...ids.values()].reduce((a, b) => a + b, 0);
    process.stdout.write(`${JSON.stringify({ mails: total, distinct: ids.size, sentTwice: twice, bytes })}\n`);
  } else if (line === 'reset') {
    ids.clear();
    bytes = 0;
    process.stdout.write('{}\n');
  } else if (line === 'quit') server.close(() => process.exit(0));
});
