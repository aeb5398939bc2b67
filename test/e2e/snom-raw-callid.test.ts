// Seam between the SNOM XML (render-snom: `callid=$call-id`) and the runtime's record key: the phone pastes the
// SIP Call-ID into the URL as it is. A Call-ID may contain '+' (RFC 3261 `word`), which a query string reads
// as a space; a Call-ID can never contain a space, so the key must still find the call.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BEN, RuntimeEnv, TRUNK, get, phone } from '../runtime/runtime-env.ts';

let env: RuntimeEnv;

test.before(async () => {
  env = await RuntimeEnv.create();
  await env.start();
  await env.serve!.synced();
});

test.after(async () => {
  await env?.dispose();
});

test('a Call-ID with + and / pasted raw by the phone toggles the recording of that call', async () => {
  const callId = 'Yz+9/aB3k+Q@10.0.0.2';
  env.plainCall(phone(BEN.ext, callId), TRUNK('0307777'), 'manual');
  await env.sync();
  const r = await get(`${env.base}/snom/record?mac=${BEN.mac.replace(/:/g, '')}&callid=${callId}`);
  assert.is(r.status, 200);
  assert.match(r.body, 'Aufnahme gestartet');
  assert.is(env.fake.actions.filter((a) => a.name === 'mixmonitor').length, 1);
});

test.run();
