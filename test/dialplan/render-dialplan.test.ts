// The rendered file: golden copy, determinism, version line, and the priority budget on every path.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolvePolicy } from '../../generator/resolve-policy.ts';
import { DIALPLAN_PATH, dialplanText, dialplanVersion, renderDialplan, versionInFile } from '../../generator/render-dialplan.ts';
import { renderHostFiles } from '../../generator/render-host-files.ts';
import type { Policy } from '../../generator/policy.ts';
import { Pbx } from './interpreter/pbx.ts';
import { bundledRuleSet, callCheck, pathCosts, PROBES, randomRuleSet, withProbes } from './support.ts';

const GOLDEN = fileURLToPath(new URL('../fixtures/golden-dialplan/', import.meta.url));
const ruleSet = bundledRuleSet();

test('golden: the dialplan of each bundled host (UPDATE_GOLDEN=1 rewrites test/fixtures/golden-dialplan/)', () => {
  for (const host of ruleSet.hosts) {
    const [file] = renderDialplan({ ruleSet, policy: resolvePolicy(ruleSet, host.name), host });
    const path = `${GOLDEN}${host.name}.conf`;
    if (process.env.UPDATE_GOLDEN === '1') {
      mkdirSync(GOLDEN, { recursive: true });
      writeFileSync(path, file!.content);
    }
    assert.fixture(String(file!.content), readFileSync(path, 'utf8'), host.name);
  }
});

test('build registers the renderer: asterisk/extensions_mitschnitt.conf is among the host files', () => {
  const host = ruleSet.hosts[0]!;
  const files = renderHostFiles({ ruleSet, policy: resolvePolicy(ruleSet, host.name), host });
  assert.ok(files.some((f) => f.path === DIALPLAN_PATH));
});

test('deterministic: the same policy gives byte-identical files; another policy another version', () => {
  const a = dialplanText(resolvePolicy(ruleSet, 'pbx-berlin'));
  const b = dialplanText(resolvePolicy(bundledRuleSet(), 'pbx-berlin'));
  assert.is(a, b);
  assert.is.not(versionInFile(a), versionInFile(dialplanText(resolvePolicy(ruleSet, 'pbx-hamburg'))));
});

test('version line: in [mitschnitt-check], 16 hex = SHA-256 of the file without that line; an edit changes it', () => {
  const text = dialplanText(resolvePolicy(ruleSet, 'pbx-berlin'));
  const version = versionInFile(text)!;
  assert.match(version, /^[0-9a-f]{16}$/);
  assert.is(dialplanVersion(text), version);
  assert.match(text, new RegExp(`\\[mitschnitt-check\\]\\nexten => version,1,NoOp\\(mitschnitt ${version}\\)\\n`));
  assert.is.not(dialplanVersion(text.replace('Return(auto)', 'Return(none)')), version);
  const pbx = new Pbx(text);
  assert.is(pbx.extension('mitschnitt-check', 'version')!.priorities.get(1)!.data, `mitschnitt ${version}`);
});

test('generated comments name the rule ids; rule names (free text) never reach the dialplan', () => {
  const text = dialplanText(resolvePolicy(ruleSet, 'pbx-berlin'));
  assert.match(text, /exten => p201,1,Return\(k\.0o\.2o1\.0i\.2i1\) ; user anna sales-external/);
  assert.match(text, /exten => r1,1,Return\(B\(15\)\) ; sales-external/);
  for (const rule of ruleSet.rules) assert.not.ok(text.includes(rule.name), rule.name);
});

test('format wav49 records to .WAV, wav to .wav; the spool folder is the configured one', () => {
  const policy = resolvePolicy(ruleSet, 'pbx-berlin');
  const wav49: Policy = { ...policy, settings: { ...policy.settings, format: 'wav49', spool: '/srv/rec/' } };
  const pbx = new Pbx(dialplanText(wav49), { now: () => 1764100000 });
  const { chan } = callCheck(pbx, ['201', '0301234567']);
  assert.match(chan.getVar('MITSCHNITT_FILE')!, /^\/srv\/rec\/2025\/11\/25\/1764100000\.\d+-1764100000\.WAV$/);
});

test('the date folder is the PBX local date (STRFTIME in its time zone)', () => {
  // 2025-11-25 23:30 UTC is already the 26th in Berlin.
  const pbx = new Pbx(dialplanText(resolvePolicy(ruleSet, 'pbx-berlin')), { now: () => 1764113400, timeZone: 'Europe/Berlin' });
  const { chan } = callCheck(pbx, ['201', '0301234567']);
  assert.match(chan.getVar('MITSCHNITT_FILE')!, /\/2025\/11\/26\/[0-9.]+-1764113400\.wav$/);
});

const BUNDLED_COSTS = {
  auto: 9,
  'auto after unknown MDC_MON_MODE (warning)': 10,
  manual: 8,
  none: 8,
  force: 7,
  deny: 7,
  'manual by MDC_MON_MODE': 6,
  'second call on a recording channel': 2,
  'deny inherited from upstream (child channel)': 7,
  'deny on a recording channel (objection, recording stopped)': 7,
};

test('priority budget: at most 10 priorities on every path for the bundled rules', () => {
  const costs = pathCosts(new Pbx(dialplanText(resolvePolicy(ruleSet, 'pbx-berlin'))), { auto: '201', manual: '301', none: '401' });
  assert.equal(costs, BUNDLED_COSTS);
  assert.ok(Math.max(...Object.values(costs)) <= 10);
});

test('the cost does not grow with the rule set: 2,000 users and 400 rules cost what the bundled rules cost', () => {
  const big = withProbes(randomRuleSet(42, { users: 2000, teams: 200, roles: 100, rules: 400 }));
  const policy = resolvePolicy(big, big.hosts[0]!.name);
  assert.ok(Object.keys(policy.rules).length > 300);
  assert.equal(pathCosts(new Pbx(dialplanText(policy)), PROBES, '0'), BUNDLED_COSTS);
});

test('both extension matchers of Asterisk (default list walk, extenpatternmatchnew trie) find the same table entries', () => {
  for (const rs of [ruleSet, randomRuleSet(3), randomRuleSet(4, { users: 300, teams: 20, roles: 10, rules: 30 })]) {
    const text = dialplanText(resolvePolicy(rs, rs.hosts[0]!.name));
    const list = new Pbx(text);
    const trie = new Pbx(text, { extenPatternMatchNew: true });
    const keys = [...text.matchAll(/^exten => ([pr][0-9]+),/gm)].map((m) => m[1]!);
    for (const key of [...keys, ...keys.map((k) => `${k}9`), ...keys.map((k) => k.slice(0, -1)), 'p', 'r', 'p+49301234', 'p*21#', 'r999999']) {
      for (const context of ['mitschnitt-numbers', 'mitschnitt-rules']) {
        assert.is(trie.extension(context, key)?.name, list.extension(context, key)?.name, `${context} ${key}`);
      }
    }
    // And whole calls come out the same.
    for (const from of [...keys.filter((k) => k.startsWith('p')).map((k) => k.slice(1)), '0301234567']) {
      const a = callCheck(list, [from, '0301234567']);
      const b = callCheck(trie, [from, '0301234567']);
      assert.is(b.result.retval, a.result.retval, from);
      assert.is(b.chan.getVar('MITSCHNITT_RULE'), a.chan.getVar('MITSCHNITT_RULE'), from);
    }
  }
});

test('fail-safe: without the lookup tables (EVAL_EXTEN missing) the call goes on unrecorded, with an ERROR log', () => {
  const text = dialplanText(resolvePolicy(ruleSet, 'pbx-berlin'));
  const withoutTables = text.slice(0, text.indexOf('\n[mitschnitt-numbers]\n'));
  const { result, chan } = callCheck(new Pbx(withoutTables), ['201', '0301234567']);
  assert.is(result.hangup, undefined);
  assert.is(result.retval, 'none');
  assert.equal(chan.mixMonitors(), []);
  assert.ok(chan.effects.some((e) => e.kind === 'Log' && e.level === 'ERROR'));
  assert.ok(result.priorities <= 10);
});

test.run();
