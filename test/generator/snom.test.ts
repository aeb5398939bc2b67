import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { recordKeyUrl, renderSnom, runtimeBaseUrl } from '../../generator/render-snom.ts';
import type { GeneratedFile } from '../../generator/render-host-files.ts';
import { assertGolden, renderBundled } from '../fixtures/golden-host-files/golden.ts';
import { sampleHost, samplePolicy, sampleUser, type SampleOptions } from './snom-sample-policy.ts';

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => name === 'fkey' });

interface Fkey { idx: string; context: string; label: string; perm: string; '#text': string }
interface Parsed { settings: { 'phone-settings'?: { dkey_record?: { perm: string; '#text': string } }; functionKeys: { fkey: Fkey[] } } }

function parse(file: GeneratedFile): Parsed {
  const xml = String(file.content);
  const valid = XMLValidator.validate(xml);
  assert.is(valid, true, `${file.path} is not well-formed: ${JSON.stringify(valid)}`);
  return parser.parse(xml) as Parsed;
}

const anna = sampleUser('anna', { phones: [{ mac: '00:04:13:2A:3B:01', model: 'D785' }], mayRecordManually: true });
const ben = sampleUser('ben', { phones: [{ mac: '00-04-13-2a-3b-02', model: 'D735' }] });
const carla = sampleUser('carla', { phones: [{ mac: '0004132a3b03', model: '370' }], mayRecordManually: true });
const dora = sampleUser('dora', { host: 'pbx-b', phones: [{ mac: '0004132a3b04', model: 'D717' }], mayRecordManually: true });

function render(options: SampleOptions = {}, host = sampleHost({})) {
  const files = renderSnom({ ruleSet: undefined as never, policy: samplePolicy({ users: [anna, ben, carla, dora], ...options }), host });
  return new Map(files.map((f) => [f.path, f]));
}

const URL = 'url http://pbx-a.example:8484/snom/record?mac=$mac&callid=$call-id';

test("one file per phone of this host's users, named by the lower-case MAC, plus generic.xml", () => {
  assert.equal([...render().keys()].sort(), ['snom/0004132a3b01.xml', 'snom/0004132a3b02.xml', 'snom/0004132a3b03.xml', 'snom/generic.xml']);
});

test('a user allowed to record manually gets the record key, owned by provisioning', () => {
  const [key] = parse(render().get('snom/0004132a3b01.xml')!).settings.functionKeys.fkey;
  assert.equal(key, { idx: '5', context: 'active', label: 'Aufnahme', perm: 'R', '#text': URL });
});

test('a user without manual rights gets the key index cleared, user-writable', () => {
  const parsed = parse(render().get('snom/0004132a3b02.xml')!);
  assert.equal(parsed.settings.functionKeys.fkey, [{ idx: '5', context: 'active', label: '', perm: 'RW', '#text': 'none' }]);
  assert.is(parsed.settings['phone-settings'], undefined, 'a D735 has no hardware record key to touch');
});

test('a SNOM 3xx also gets its hardware Record key mapped to the same URL', () => {
  const parsed = parse(render().get('snom/0004132a3b03.xml')!);
  assert.equal(parsed.settings['phone-settings']!.dkey_record, { perm: 'R', '#text': URL });
  assert.is(parsed.settings.functionKeys.fkey[0]!['#text'], URL);
});

test('a SNOM 3xx whose user lost the right gets the factory Record key back', () => {
  const files = renderSnom({ ruleSet: undefined as never, policy: samplePolicy({ users: [{ ...carla, mayRecordManually: false }] }), host: sampleHost({}) });
  const parsed = parse(files.find((f) => f.path === 'snom/0004132a3b03.xml')!);
  assert.equal(parsed.settings['phone-settings']!.dkey_record, { perm: 'RW', '#text': 'keyevent F_REC' });
});

test('the generic snippet carries the key with $mac for central provisioning', () => {
  const parsed = parse(render().get('snom/generic.xml')!);
  assert.equal(parsed.settings.functionKeys.fkey, [{ idx: '5', context: 'active', label: 'Aufnahme', perm: 'R', '#text': URL }]);
});

test('key index and label come from settings.recordKey', () => {
  const [key] = parse(render({ index: 12, label: 'Mitschnitt' }).get('snom/0004132a3b01.xml')!).settings.functionKeys.fkey;
  assert.is(key!.idx, '12');
  assert.is(key!.label, 'Mitschnitt');
});

test('the runtime URL: hosts.json url wins, else http://address:listen-port, IPv6 in brackets', () => {
  const settings = samplePolicy({ listen: '0.0.0.0:9000' }).settings;
  assert.is(runtimeBaseUrl(sampleHost({ url: 'https://rec.example:8443/' }), settings), 'https://rec.example:8443');
  assert.is(runtimeBaseUrl(sampleHost({}), settings), 'http://pbx-a.example:9000');
  assert.is(runtimeBaseUrl(sampleHost({ address: '2001:db8::5' }), settings), 'http://[2001:db8::5]:9000');
  assert.is(recordKeyUrl(sampleHost({}), settings), 'http://pbx-a.example:9000/snom/record?mac=$mac&callid=$call-id');
});

test('labels with markup cannot add elements or attributes', () => {
  for (const label of ['x" perm="RW', "x' idx='9", 'Rec</fkey><fkey idx="1">url http://evil', 'A & B <b>', ']]><!--']) {
    const file = render({ label }).get('snom/0004132a3b01.xml')!;
    const keys = parse(file).settings.functionKeys.fkey;
    assert.is(keys.length, 1, label);
    assert.equal(Object.keys(keys[0]!).sort(), ['#text', 'context', 'idx', 'label', 'perm']);
    assert.is(keys[0]!.label, label, 'the label reads back exactly as written in settings');
    assert.is(keys[0]!.perm, 'R');
  }
});

test('a label with a control character is refused rather than written', () => {
  assert.throws(() => render({ label: 'Auf\nnahme' }), /control character/);
});

test('the bundled example matches its golden SNOM files', () => {
  assertGolden(renderBundled(renderSnom));
});

test.run();
