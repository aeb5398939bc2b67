// Payloads in every string that reaches the dialplan: refused by validate, or refused by the renderer, or harmless.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { validateRules } from '../../generator/validate.ts';
import { resolvePolicy } from '../../generator/resolve-policy.ts';
import { dialplanText, renderDialplan } from '../../generator/render-dialplan.ts';
import { UnsafeValueError } from '../../generator/host-file-template.ts';
import type { RuleSet } from '../../generator/rule-set.ts';
import { materializeRules } from '../generator/materialize-rules.ts';
import { Pbx } from './interpreter/pbx.ts';
import { bundledRuleSet, callCheck } from './support.ts';

const PAYLOADS = ['\n', ';', ',', ')', '(', '${SHELL(id)}', '$[1]', '"', '|', '`id`', '\\', ']', ':', '?', "'", '=', ' & ', 'x\ny'];

/** Every value of the rule files that ends up in the dialplan, or that could be mistaken for one (names). */
const FIELDS: { address: string; base: string | number }[] = [
  { address: 'rules.json#/rules/0/id', base: 'sales-external' },
  { address: 'rules.json#/rules/0/name', base: 'Vertrieb' },
  { address: 'rules.json#/rules/0/announcement', base: 'custom/notice' },
  { address: 'rules.json#/rules/0/beep', base: 15 },
  { address: 'users.json#/users/0/id', base: 'anna' },
  { address: 'users.json#/users/0/name', base: 'Anna' },
  { address: 'users.json#/users/0/ext', base: '201' },
  { address: 'teams.json#/teams/0/id', base: 'sales' },
  { address: 'teams.json#/teams/0/name', base: 'Vertrieb' },
  { address: 'teams.json#/teams/0/ext', base: '600' },
  { address: 'hosts.json#/hosts/0/name', base: 'pbx-berlin' },
  { address: 'hosts.json#/hosts/0/dir', base: '/etc/mitschnitt' },
  { address: 'settings.json#/spool', base: '/var/spool/rec' },
  { address: 'settings.json#/format', base: 'wav' },
];

const CALLS: [string, string, string | undefined][] = [];
for (const from of ['201', '202', '301', '401', '600', '0301234567']) {
  for (const to of ['201', '301', '0301234567']) for (const mode of [undefined, 'force', 'garbage']) CALLS.push([from, to, mode]);
}

/** What the interpreter does for a fixed set of calls: the applications run and what they recorded. */
function behaviour(ruleSet: RuleSet): string[] {
  return ruleSet.hosts.flatMap((host) => {
    const pbx = new Pbx(dialplanText(resolvePolicy(ruleSet, host.name)), { now: () => 1764100000 });
    return CALLS.map(([from, to, mode]) => {
      const { result, chan } = callCheck(pbx, [from, to], mode);
      const effects = chan.effects.map((e) => (e.kind === 'MixMonitor' ? `MixMonitor ${e.options}` : e.kind === 'Log' ? `Log ${e.level}` : e.kind));
      return `${host.name} ${from}>${to} ${mode}: ${result.priorities} ${result.apps.join(',')} ${effects.join(',')} ${result.hangup ?? ''}`;
    });
  });
}

test('rule files: a payload in any dialplan-bound field fails validate, or leaves the dialplan\'s behaviour unchanged', () => {
  const baseline = behaviour(bundledRuleSet());
  let refused = 0;
  let accepted = 0;
  for (const { address, base } of FIELDS) {
    for (const payload of PAYLOADS) {
      const value = typeof base === 'number' ? `${base}${payload}` : `${base}${payload}`;
      const rules = materializeRules({ set: { [address]: value } });
      try {
        const result = validateRules(rules.dir);
        if (!result.ok) {
          refused++;
          continue;
        }
        accepted++;
        assert.ok(address.endsWith('/name'), `${address} accepted ${JSON.stringify(value)}`);
        // Names are free text: they never reach the dialplan, which stays byte for byte the same.
        for (const host of result.ruleSet.hosts) {
          assert.is(dialplanText(resolvePolicy(result.ruleSet, host.name)), dialplanText(resolvePolicy(bundledRuleSet(), host.name)), `${address} ${JSON.stringify(value)}`);
        }
        assert.equal(behaviour(result.ruleSet), baseline, `${address} ${JSON.stringify(value)}`);
      } finally {
        rules.cleanup();
      }
    }
  }
  assert.ok(refused > 0 && accepted > 0, `${refused} refused, ${accepted} accepted`);
});

/** Sets a value deep in a copy of the bundled rule set, bypassing validation (as a schema gap would). */
function tampered(edit: (rs: RuleSet) => void): RuleSet {
  const rs = structuredClone(bundledRuleSet());
  edit(rs);
  return rs;
}

const DIRECT: [string, (rs: RuleSet, payload: string) => void][] = [
  ['rule id', (rs, p) => {
    rs.rules[0]!.id += p;
  }],
  ['announcement', (rs, p) => {
    rs.rules[0]!.announcement = `custom/notice${p}`;
  }],
  ['beep', (rs, p) => {
    (rs.rules[0] as { beep: unknown }).beep = `15${p}`;
  }],
  ['user id', (rs, p) => {
    rs.users[0]!.id += p;
  }],
  ['user extension', (rs, p) => {
    rs.users[0]!.ext += p;
  }],
  ['team id', (rs, p) => {
    rs.teams[0]!.id += p;
  }],
  ['team extension', (rs, p) => {
    rs.teams[0]!.ext += p;
  }],
  ['spool', (rs, p) => {
    rs.settings.spool += p;
  }],
  ['format', (rs, p) => {
    (rs.settings as { format: string }).format += p;
  }],
];

test('renderer, validation bypassed: a payload in any field makes rendering fail with UnsafeValueError, never a line', () => {
  for (const [what, edit] of DIRECT) {
    for (const payload of PAYLOADS) {
      const rs = tampered((r) => edit(r, payload));
      const host = rs.hosts[0]!;
      assert.throws(
        () => renderDialplan({ ruleSet: rs, policy: resolvePolicy(rs, host.name), host }),
        (err: unknown) => err instanceof UnsafeValueError,
        `${what} + ${JSON.stringify(payload)}`,
      );
    }
  }
});

test('renderer, validation bypassed: the host name and deployed folder are checked too', () => {
  for (const payload of PAYLOADS) {
    const rs = tampered((r) => {
      r.hosts[0]!.dir += payload;
    });
    const host = rs.hosts[0]!;
    assert.throws(() => renderDialplan({ ruleSet: rs, policy: resolvePolicy(rs, host.name), host }), (err: unknown) => err instanceof UnsafeValueError, JSON.stringify(payload));
    const named = structuredClone(bundledRuleSet());
    const policy = { ...resolvePolicy(named, named.hosts[0]!.name), host: `pbx${payload}` };
    assert.throws(() => dialplanText(policy), (err: unknown) => err instanceof UnsafeValueError, JSON.stringify(payload));
  }
});

test('runtime values: hostile caller numbers and MDC_MON_MODE run no extra application and start no recording', () => {
  const pbx = new Pbx(dialplanText(resolvePolicy(bundledRuleSet(), 'pbx-berlin')), { now: () => 1764100000 });
  const plain = callCheck(pbx, ['401', '402']).result;
  for (const payload of PAYLOADS) {
    for (const [args, mode] of [[[`401${payload}`, '402'], undefined], [['401', `402${payload}`], undefined], [['401', '402', `external${payload}`], undefined], [['401', '402'], `force${payload}`]] as const) {
      const { result, chan } = callCheck(pbx, [...args], mode);
      const label = `${JSON.stringify(args)} ${JSON.stringify(mode)}`;
      assert.is(result.hangup, undefined, label);
      assert.equal(chan.mixMonitors(), [], label);
      assert.equal(result.apps.filter((a) => a !== 'Log'), plain.apps, label);
    }
  }
});

test.run();
