import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderSystemd } from '../../generator/render-systemd.ts';
import { systemdEscape, UnsafeValueError } from '../../generator/host-file-template.ts';
import { assertGolden, renderBundled } from '../fixtures/golden-host-files/golden.ts';
import { sampleHost, samplePolicy, type SampleOptions } from './snom-sample-policy.ts';

function render(options: SampleOptions = {}, dir = '/etc/mitschnitt'): string {
  const [file] = renderSystemd({ ruleSet: undefined as never, policy: samplePolicy(options), host: sampleHost({ dir }) });
  assert.is(file!.path, 'systemd/mitschnitt.service');
  return String(file!.content);
}

/** systemd's unit syntax: [Section] headers, Key=Value lines, '#'/';' comments; repeated keys keep every value. */
function parseUnit(text: string): Record<string, Record<string, string[]>> {
  const unit: Record<string, Record<string, string[]>> = {};
  let section: Record<string, string[]> | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '' || /^[#;]/.test(line)) continue;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header) {
      section = unit[header[1]!] = {};
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    assert.ok(kv && section, `not a unit line: ${line}`);
    (section![kv![1]!] ??= []).push(kv![2]!);
  }
  return unit;
}

const root = mkdtempSync(join(tmpdir(), 'mitschnitt-systemd-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

/**
 * `systemd-analyze verify` on the unit inside a scratch root: the distribution's units (for the targets the
 * unit depends on) and an executable `mitschnitt` on systemd's fixed search path. Any diagnostic is a failure.
 */
const system = join(root, 'etc/systemd/system');
mkdirSync(system, { recursive: true });
mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
cpSync('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
writeFileSync(join(root, 'usr/local/bin/mitschnitt'), '#!/bin/sh\n');
chmodSync(join(root, 'usr/local/bin/mitschnitt'), 0o755);

function verify(content: string): { status: number | null; output: string } {
  writeFileSync(join(system, 'mitschnitt.service'), content);
  const run = spawnSync('systemd-analyze', ['verify', '--man=no', `--root=${root}`, 'mitschnitt.service'], { encoding: 'utf8' });
  if (run.error) throw new Error(`systemd-analyze is needed for this test (Debian package systemd): ${run.error.message}`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

test('systemd-analyze verify accepts the unit without a single warning', () => {
  const result = verify(render());
  assert.is(result.output, '');
  assert.is(result.status, 0);
});

test('systemd-analyze verify would catch a broken unit (the check is real)', () => {
  const result = verify(`${render()}\n[Service]\nNoSuchDirective=1\n`);
  assert.match(result.output, /Unknown key 'NoSuchDirective'/);
});

test("systemd-analyze security rates the sandbox's exposure at most 2.0 of 10 (hardening cannot silently regress)", () => {
  verify(render());
  const run = spawnSync('systemd-analyze', ['security', '--offline=true', `--root=${root}`, '--no-pager', 'mitschnitt.service'], { encoding: 'utf8' });
  const level = /Overall exposure level for mitschnitt\.service: ([0-9.]+)/.exec(run.stdout);
  assert.ok(level, run.stdout + run.stderr);
  assert.ok(Number(level![1]) <= 2.0, `exposure ${level![1]}`);
});

test('serve runs from the deployed config as the mitschnitt user, restarting on failure', () => {
  const { Service } = parseUnit(render({}, '/srv/mitschnitt'));
  assert.equal(Service!.ExecStart, ['mitschnitt serve --config /srv/mitschnitt/current']);
  assert.equal(Service!.User, ['mitschnitt']);
  assert.equal(Service!.Group, ['mitschnitt']);
  assert.equal(Service!.SupplementaryGroups, ['asterisk']);
  assert.equal(Service!.Restart, ['on-failure']);
});

test('sandbox: read-only system, writable spool only, no new privileges, no capabilities', () => {
  const { Service } = parseUnit(render({ spool: '/data/recordings/' }));
  assert.equal(Service!.ProtectSystem, ['strict']);
  assert.equal(Service!.ReadWritePaths, ['/data/recordings']);
  for (const key of ['NoNewPrivileges', 'PrivateTmp', 'ProtectHome', 'PrivateDevices', 'RestrictSUIDSGID']) assert.equal(Service![key], ['yes'], key);
  assert.equal(Service!.CapabilityBoundingSet, ['']);
  assert.equal(Service!.AmbientCapabilities, ['']);
});

test('a listen port below 1024 gets exactly CAP_NET_BIND_SERVICE', () => {
  const { Service } = parseUnit(render({ listen: '0.0.0.0:443' }));
  assert.equal(Service!.CapabilityBoundingSet, ['CAP_NET_BIND_SERVICE']);
  assert.equal(Service!.AmbientCapabilities, ['CAP_NET_BIND_SERVICE']);
  assert.is(verify(render({ listen: '0.0.0.0:443' })).output, '');
});

test('unit values: % is escaped as a specifier, newlines and backslashes are refused', () => {
  assert.is(systemdEscape('/var/spool/100%'), '/var/spool/100%%');
  for (const bad of ['/a\nExecStartPre=/bin/rm', '/a\\b']) assert.throws(() => systemdEscape(bad), (e: unknown) => e instanceof UnsafeValueError);
});

test('the bundled example matches its golden unit', () => {
  assertGolden(renderBundled(renderSystemd));
});

test.run();
