import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECORD_FEATURE, RECORD_USER_EVENT, renderFeatures } from '../../generator/render-features.ts';
import { UnsafeValueError } from '../../generator/host-file-template.ts';
import { browse, ConfigError, loadConfig } from './manager-asterisk-config.ts';
import { assertGolden, renderBundled } from '../fixtures/golden-host-files/golden.ts';
import { sampleHost, samplePolicy, sampleUser, type SampleOptions } from './snom-sample-policy.ts';

const manual = sampleUser('carla', { mayRecordManually: true });
const elsewhere = sampleUser('dora', { host: 'pbx-b', mayRecordManually: true });
const plain = sampleUser('ben');

const dirs: string[] = [];
test.after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A stock-like features.conf with our include at the end, loaded the way Asterisk's config parser does. */
function load(options: SampleOptions, withApplicationmap = true) {
  const root = mkdtempSync(join(tmpdir(), 'mitschnitt-features-'));
  dirs.push(root);
  const [file] = renderFeatures({ ruleSet: undefined as never, policy: samplePolicy(options), host: sampleHost({}) });
  assert.is(file!.path, 'asterisk/features_mitschnitt.conf');
  writeFileSync(join(root, 'features_mitschnitt.conf'), file!.content);
  const conf = [
    '[general]',
    ';transferdigittimeout => 3',
    '[featuremap]',
    'blindxfer => #1',
    ...(withApplicationmap ? ['[applicationmap]', 'pauseplay => *9,self,Playback(beep)'] : []),
    '#include "features_mitschnitt.conf"',
  ].join('\n');
  writeFileSync(join(root, 'features.conf'), conf);
  return loadConfig(join(root, 'features.conf'), root);
}

/** features_config.c applicationmap_handler: dtmf, activate_on[/by], app(args)[,moh]; parentheses keep commas together. */
function applicationmapItem(value: string) {
  const m = /^([^,]+),([^,]+),([A-Za-z]+)\((.*)\)(?:,(.*))?$/.exec(value);
  assert.ok(m, `not an applicationmap value: ${value}`);
  return { dtmf: m![1], activateOn: m![2]!.split('/')[0], app: m![3], appData: m![4], moh: m![5] };
}

test('with a manual user on the host, the record feature is appended to [applicationmap]', () => {
  const config = load({ users: [manual, plain] });
  const items = browse(config, 'applicationmap');
  assert.equal(items.map((v) => v.name), ['pauseplay', RECORD_FEATURE], "the admin's own features stay");
  assert.is(config.filter((c) => c.name === 'applicationmap').length, 1, 'appended, not a second section Asterisk would ignore');
  const item = applicationmapItem(items[1]!.value);
  assert.equal(item, { dtmf: '*1', activateOn: 'self', app: 'UserEvent', appData: `${RECORD_USER_EVENT},Source: feature`, moh: undefined });
  assert.ok(items[1]!.object, 'written with =>');
});

test('the DTMF code comes from settings.recordKey.featureCode', () => {
  const items = browse(load({ users: [manual], featureCode: '#77' }), 'applicationmap');
  assert.is(applicationmapItem(items.find((v) => v.name === RECORD_FEATURE)!.value).dtmf, '#77');
});

test('no manual user on this host (one elsewhere does not count): no feature at all, and no section is required', () => {
  const config = load({ users: [plain, elsewhere] }, false);
  assert.equal(config.map((c) => c.name), ['general', 'featuremap']);
  assert.equal(browse(config, 'featuremap').map((v) => v.name), ['blindxfer']);
});

test('a features.conf without [applicationmap] is refused loudly when the feature is needed', () => {
  assert.throws(() => load({ users: [manual] }, false), (e: unknown) => e instanceof ConfigError && /'applicationmap' does not exist/.test(e.message));
});

test('feature codes that could add options or sections are refused', () => {
  for (const bad of ['*1\n[evil]', '*1;x', '*1,peer', '', '1234567', 'A']) {
    assert.throws(() => renderFeatures({ ruleSet: undefined as never, policy: samplePolicy({ users: [manual], featureCode: bad }), host: sampleHost({}) }), (e: unknown) => e instanceof UnsafeValueError, JSON.stringify(bad));
  }
});

test('the bundled example matches its golden features_mitschnitt.conf', () => {
  assertGolden(renderBundled(renderFeatures));
});

test.run();
