// Hand-made out/<host>/ trees in the exact build format (generator/manifest.ts), small enough to read in a test:
// a dialplan with a correct version line, manager/features snippets, policy.json, cron file, systemd unit, a script.
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildManifest, renderManifest } from '../../generator/manifest.ts';
import type { GeneratedFile } from '../../generator/render-host-files.ts';

/** A dialplan file whose version line carries the first 16 hex digits of the SHA-256 of the rest (contract). */
export function dialplan(body: string): string {
  const rest = `${body}\n`;
  const hex = createHash('sha256').update(rest).digest('hex').slice(0, 16);
  return `[mitschnitt-check]\nexten => version,1,NoOp(mitschnitt ${hex})\n${rest}`;
}

export function versionOf(extensionsConf: string): string {
  return /NoOp\(mitschnitt ([0-9a-f]{16})\)/.exec(extensionsConf)![1]!;
}

export interface ReleaseSpec {
  dialplanBody?: string;
  secretsDir: string;
  retentionDays?: number;
  cronSchedule?: string;
  /** Files added, or replacing the default content of the same path. */
  extra?: Record<string, string>;
  omit?: string[];
  commit?: string;
}

export function releaseFiles(spec: ReleaseSpec): GeneratedFile[] {
  const files: GeneratedFile[] = [
    { path: 'asterisk/extensions_mitschnitt.conf', content: dialplan(spec.dialplanBody ?? 'exten => s,1,Return(none)') },
    { path: 'asterisk/manager_mitschnitt.conf', content: `[mitschnitt]\n#tryinclude "${spec.secretsDir}/ami.manager.conf"\nread = call\n` },
    { path: 'asterisk/features_mitschnitt.conf', content: '[featuremap]\nautomixmon => *1\n' },
    {
      path: 'policy.json',
      content: JSON.stringify({ version: 1, settings: { secretsDir: spec.secretsDir, ami: { secret: 'ami' }, retentionDays: spec.retentionDays ?? 90 } }) + '\n',
    },
    { path: 'cron/mitschnitt', content: `${spec.cronSchedule ?? '0 20 * * *'} mitschnitt mitschnitt deliver --config /etc/mitschnitt/current\n` },
    { path: 'systemd/mitschnitt.service', content: '[Service]\nExecStart=mitschnitt serve --config /etc/mitschnitt/current\n' },
    { path: 'scripts/archive.sh', content: '#!/bin/sh\ncp "$1" "$2" /archive/\n', mode: 0o755 },
  ];
  const byPath = new Map(files.map((f) => [f.path, f]));
  for (const [path, content] of Object.entries(spec.extra ?? {})) byPath.set(path, { ...byPath.get(path), path, content });
  return [...byPath.values()].filter((f) => !(spec.omit ?? []).includes(f.path));
}

/** Writes out/<host>/ (replacing it) with the files and their manifest. */
export function writeRelease(outDir: string, host: string, spec: ReleaseSpec): void {
  const hostDir = join(outDir, host);
  rmSync(hostDir, { recursive: true, force: true });
  const files = releaseFiles(spec);
  const all = [...files, renderManifest(buildManifest(host, { commit: spec.commit ?? 'a'.repeat(40), dirty: false }, files))];
  for (const f of all) {
    const path = join(hostDir, f.path);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, f.content, { mode: f.mode ?? 0o644 });
  }
}
