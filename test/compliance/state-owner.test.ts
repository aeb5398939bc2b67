// Run as root, the compliance commands give the files they write in <spool>/.mitschnitt/ to the runtime user
// (the owner of that folder): otherwise expire under cron could not read a hold an admin added as root.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chown, mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { cli, daysAgo, makeSpool } from './support.ts';

const RUNTIME_UID = 65534; // nobody: any account that is not root

test('hold, verify and an erasure run by root leave holds.json, the verified/ files, audit.log and deletions.log to the runtime user', async () => {
  if (process.getuid?.() !== 0) {
    console.log('not root: nothing to hand over, skipped');
    return;
  }
  const s = await makeSpool('mitschnitt-owner-');
  try {
    const rec = await s.record({ start: daysAgo(5), caller: '201', callee: '+4930123456' });
    const state = join(s.ws.spool, '.mitschnitt');
    await mkdir(state, { recursive: true });
    await chown(state, RUNTIME_UID, RUNTIME_UID);
    const cfg = ['--config', s.ws.config];
    assert.is((await cli(['hold', 'add', ...cfg, '--number', '+4940999', '--reason', 'x'])).code, 0);
    assert.is((await cli(['verify', ...cfg])).code, 0);
    assert.is((await cli(['subject', ...cfg, '--number', '+4930123456', '--erase', '--reason', 'Art. 17'])).code, 0);
    const day = rec.journal.slice(s.ws.spool.length + 1, s.ws.spool.length + 11);
    for (const file of ['holds.json', 'verified', `verified/${day.slice(0, 4)}`, `verified/${day}.json`, 'verified/last-run.json', 'audit.log', 'deletions.log']) {
      const st = await stat(join(state, file));
      assert.equal([file, st.uid, st.gid], [file, RUNTIME_UID, RUNTIME_UID]);
    }
  } finally {
    await rm(s.ws.root, { recursive: true, force: true });
  }
});

test.run();
