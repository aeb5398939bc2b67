import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Journal } from '../../runtime/journal.ts';
import { verifyChain } from '../../runtime/journal-verify.ts';
import { ANNA, BEN, RuntimeEnv, TRUNK, get, phone } from './runtime-env.ts';
import { waitFor } from '../support/wait-for.ts';

const header = (h: [string, string][], k: string) => h.find(([n]) => n === k)?.[1];

for (const channelvars of [true, false]) {
  const how = channelvars ? 'with channelvars' : 'without channelvars (Getvar)';
  test(`AMI drop mid-call, ${how}: the call that ended meanwhile is journaled, the one still running is picked up and journaled later`, async () => {
    const env = await RuntimeEnv.create(channelvars ? {} : { channelvars: [] });
    try {
      await env.start();
      await env.serve!.synced();
      const ended = env.recordedCall(phone(ANNA.ext), TRUNK('0301000'));
      const running = env.recordedCall(phone(ANNA.ext), TRUNK('0302000'));
      env.fake.advance(2);
      await env.sync();
      assert.is(env.serve!.tracker.recordings.size, 2);
      env.fake.dropConnections();
      env.fake.hangup(ended.caller); // nobody listens: this Hangup is never seen
      const started = env.recordedCall(phone(ANNA.ext), TRUNK('0303000')); // begins while we are away
      env.fake.advance(2);
      await waitFor('reconnect', () => env.logged('AMI connection lost').filter((l) => l.events !== false).length === 1);
      await env.serve!.synced();
      assert.ok(env.serve!.tracker.recordings.has(running.file), 'running recording kept');
      assert.ok(env.serve!.tracker.recordings.has(started.file), 'recording that began meanwhile adopted');
      assert.not.ok(env.serve!.tracker.recordings.has(ended.file));
      const [first] = await env.waitForJournals(1);
      assert.is(first, ended.file.replace(/\.wav$/, '.json'));
      env.fake.advance(1);
      env.fake.hangup(running.caller);
      env.fake.hangup(started.callee);
      const all = await env.waitForJournals(3);
      const js = await Promise.all(all.map((p) => env.readJson<Journal>(p)));
      const byFile = (f: string) => js.find((j) => f.endsWith(j.audio))!;
      assert.is(byFile(ended.file).durationSeconds, 2);
      assert.is(byFile(running.file).durationSeconds, 5);
      assert.is(byFile(started.file).durationSeconds, 3);
      assert.is(byFile(started.file).rule, 'sales-auto', 'rule from the variables read at the resync');
      assert.ok((await verifyChain(env.spool)).ok);
      if (!channelvars) {
        assert.ok(env.fake.actions.some((a) => a.name === 'getvar' && header(a.headers, 'Variable') === 'MITSCHNITT_FILE'));
      }
    } finally {
      await env.dispose();
    }
  });
}

test('serve with a wrong AMI secret keeps running: login failures are logged and retried, HTTP answers', async () => {
  const env = await RuntimeEnv.create({ amiSecret: 'wrong-secret' });
  try {
    await env.start();
    await waitFor('two login failures', () => env.logged('AMI login failed: check the AMI user and its secret file').length >= 2);
    const r = await get(`${env.base}/snom/record?mac=${encodeURIComponent(BEN.mac)}&callid=x`);
    assert.is(r.status, 200);
    assert.match(r.body, /Kein Gespräch gefunden/);
    assert.is(await get(`${env.base}/nope`).then((x) => x.status), 404);
  } finally {
    await env.dispose();
  }
});

test('memory stays flat: after 10,000 calls (every 100th recorded) nothing is tracked any more', async () => {
  const env = await RuntimeEnv.create({ fileCloseDelayMs: 0 });
  try {
    await env.start();
    await env.serve!.synced();
    for (let i = 0; i < 10_000; i++) {
      if (i % 100 === 0) {
        const c = env.recordedCall(phone(ANNA.ext), TRUNK(`03${i}`));
        env.fake.advance(1);
        env.fake.hangup(c.callee);
      } else {
        const c = env.plainCall(phone(BEN.ext), TRUNK(`04${i}`), 'none');
        env.fake.hangup(i % 2 ? c.caller : c.callee);
      }
      if (i % 200 === 199) await env.sync();
    }
    await env.sync();
    await env.waitForJournals(100);
    assert.equal(env.serve!.tracker.size, { expected: 0, channels: 0, bridges: 0, recordings: 0, objections: 0 });
    assert.is(env.fake.channels.size, 0);
    assert.ok(env.serve!.tracker.eventsProcessed > 100_000, `events processed: ${env.serve!.tracker.eventsProcessed}`);
  } finally {
    await env.dispose();
  }
});

test.run();
