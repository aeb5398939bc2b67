// The package tests install the real .deb on this machine (root, Debian 12) with apt-get, as an admin does on a
// PBX, and leave the machine as they found it: purged, with the user, groups and spool they made removed.
// Two such test files must not install at the same time (run-all runs two files at once): each holds a machine-wide
// flock while it runs. The package is built once per source state and shared between them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPackage, type PackageResult } from '../../ci/debian/build-package.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const LOCK = '/run/lock/mitschnitt-package-test.lock';
const CACHE = '/var/cache/mitschnitt-package-test';
/** What the package is built from: a change in any of these builds a new one. */
const SOURCES = ['bin', 'generator', 'runtime', 'ci', 'templates', 'schema', 'rules', 'package.json', 'package-lock.json'];

export function sh(command: string, input?: string): { code: number; out: string } {
  const r = spawnSync('/bin/sh', ['-c', command], { encoding: 'utf8', input, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

export function mustSh(command: string, input?: string): string {
  const r = sh(command, input);
  if (r.code !== 0) throw new Error(`${command} failed (exit ${r.code}):\n${r.out}`);
  return r.out;
}

/** Takes the machine-wide install lock; resolves with its release function. */
export async function lockMachine(): Promise<() => Promise<void>> {
  mkdirSync('/run/lock', { recursive: true });
  const holder: ChildProcess = spawn('flock', ['-x', LOCK, 'sh', '-c', 'echo locked; exec cat'], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.once('data', () => resolve());
    holder.once('exit', (code) => reject(new Error(`flock ${LOCK} exited ${code}`)));
  });
  return async () => {
    const exited = new Promise((r) => holder.once('exit', r));
    holder.stdin!.end();
    await exited;
  };
}

function sourceHash(): string {
  const hash = createHash('sha256');
  const add = (path: string) => {
    const full = join(REPO, path);
    if (!existsSync(full)) return;
    if (statSync(full).isDirectory()) {
      for (const name of readdirSync(full).sort()) if (name !== 'node_modules') add(join(path, name));
    } else {
      hash.update(`${path}\0`).update(readFileSync(full)).update('\0');
    }
  };
  for (const s of SOURCES) add(s);
  return hash.digest('hex').slice(0, 16);
}

/** The package for the current sources (gzip: xz would add ~1 min per build on CI's 2 cores; the content is the same). */
export function builtPackage(): PackageResult & { cached: boolean } {
  const dir = join(CACHE, sourceHash());
  const existing = existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith('.deb')) : undefined;
  if (existing) {
    const file = join(dir, existing);
    const [, version, arch] = /^mitschnitt_(.+)_(.+)\.deb$/.exec(existing)!;
    return { file, version: version!, arch: arch!, bytes: statSync(file).size, installedKiB: 0, cached: true };
  }
  rmSync(CACHE, { recursive: true, force: true }); // older source states
  return { ...buildPackage({ outDir: dir, compression: 'gzip' }), cached: false };
}

export function installed(): string | null {
  const r = sh("dpkg-query -W -f='${Status} ${Version}' mitschnitt 2>/dev/null");
  const m = /install ok installed (\S+)/.exec(r.out);
  return m ? m[1]! : null;
}

export interface MachineState {
  user: boolean;
  asteriskGroup: boolean;
  asteriskUser: boolean;
  spool: boolean;
  etc: boolean;
}

const SPOOL = '/var/spool/asterisk/mitschnitt';

/** What existed before the test, so cleanup removes only what the test (through the package) created. */
export function machineState(): MachineState {
  return {
    user: sh('getent passwd mitschnitt').code === 0,
    asteriskGroup: sh('getent group asterisk').code === 0,
    asteriskUser: sh('getent passwd asterisk').code === 0,
    spool: existsSync(SPOOL),
    etc: existsSync('/etc/mitschnitt'),
  };
}

/** Purges the package and removes the user, groups, spool and files the test made. */
export function cleanMachine(before: MachineState): void {
  if (sh('dpkg-query -W mitschnitt 2>/dev/null').code === 0) mustSh('apt-get purge -y -q mitschnitt 2>&1');
  if (!before.spool) rmSync(SPOOL, { recursive: true, force: true });
  if (!before.spool && existsSync('/var/spool/asterisk') && readdirSync('/var/spool/asterisk').length === 0) rmSync('/var/spool/asterisk', { recursive: true });
  if (!before.user && sh('getent passwd mitschnitt').code === 0) mustSh('deluser --quiet --system mitschnitt 2>&1');
  if (!before.user && sh('getent group mitschnitt').code === 0) mustSh('delgroup --quiet --system mitschnitt 2>&1');
  if (!before.asteriskGroup && sh('getent group asterisk').code === 0) mustSh('delgroup --quiet --system asterisk 2>&1');
  if (!before.etc) rmSync('/etc/mitschnitt', { recursive: true, force: true });
}
