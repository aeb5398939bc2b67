// A test "PBX": a temp folder with the admin's Asterisk config (including the mitschnitt files from
// <dir>/current as the README tells admins to), reached through a real sshd whose sessions find the stand-in
// `asterisk` and `systemctl` (fixtures/bin) first on PATH.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSshd, type Sshd, type SshdOptions } from '../support/sshd.ts';
import type { Host } from '../../generator/rule-set.ts';
import type { DeployOptions } from '../../ci/deploy.ts';
import { readLocalRelease } from '../../ci/release-files.ts';
import { writeRelease, type ReleaseSpec } from './release-fixture.ts';

export const STANDIN_BIN = fileURLToPath(new URL('./fixtures/bin', import.meta.url));

export interface Pbx {
  root: string;
  host: Host;
  sshd: Sshd;
  asteriskDir: string;
  state: string;
  cronDir: string;
  systemdDir: string;
  secretsDir: string;
  /** The `asterisk -rx` commands run so far. */
  asteriskCommands(): string[];
  systemctlCalls(): string[];
  clearLogs(): void;
  flag(name: string, on: boolean): void;
  stop(): Promise<void>;
}

export interface PbxOptions extends Pick<SshdOptions, 'clientKeyPath' | 'homeKeys'> {
  /** Whether the admin already added the #include lines (default true). */
  includes?: boolean;
  /** A folder of further stand-in commands, found before the others (e.g. a slow `cp`). */
  extraBin?: string;
}

/** Writes the admin's Asterisk config, with or without the mitschnitt #include lines. */
export function writeAsteriskConfig(asteriskDir: string, dir: string, includes: boolean): void {
  const include = (file: string) => (includes ? `\n#include "${dir}/current/asterisk/${file}"\n` : '');
  writeFileSync(join(asteriskDir, 'extensions.conf'), `[default]\nexten => 100,1,Answer()\n${include('extensions_mitschnitt.conf')}`);
  writeFileSync(join(asteriskDir, 'manager.conf'), `[general]\nenabled = yes\n${include('manager_mitschnitt.conf')}`);
  writeFileSync(join(asteriskDir, 'features.conf'), `[general]\n${include('features_mitschnitt.conf')}`);
}

export async function startPbx(name: string, options: PbxOptions = {}): Promise<Pbx> {
  const root = mkdtempSync(join(tmpdir(), `mitschnitt-pbx-${name}-`));
  const asteriskDir = join(root, 'etc/asterisk');
  const dir = join(root, 'etc/mitschnitt');
  const state = join(root, 'asterisk-state');
  const cronDir = join(root, 'etc/cron.d');
  const systemdDir = join(root, 'etc/systemd/system');
  const secretsDir = join(dir, 'secrets');
  for (const d of [asteriskDir, state, cronDir, systemdDir]) mkdirSync(d, { recursive: true });
  writeAsteriskConfig(asteriskDir, dir, options.includes ?? true);
  const sshd = await startSshd({
    clientKeyPath: options.clientKeyPath,
    homeKeys: options.homeKeys,
    env: {
      PATH: `${options.extraBin ? `${options.extraBin}:` : ''}${STANDIN_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      FAKE_ASTERISK_DIR: asteriskDir,
      FAKE_ASTERISK_STATE: state,
      // A HOME without the machine's ~/.bashrc: sshd runs commands through the login shell, and a heavy .bashrc
      // (pyenv init on CI machines) would add half a second to every remote command.
      HOME: root,
    },
  });
  const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
  return {
    root,
    sshd,
    asteriskDir,
    state,
    cronDir,
    systemdDir,
    secretsDir,
    host: { name, address: '127.0.0.1', port: sshd.port, user: 'root', hostKey: sshd.hostKey, dir, asteriskDir },
    asteriskCommands: () => lines(join(state, 'commands.log')),
    systemctlCalls: () => lines(join(state, 'systemctl.log')),
    clearLogs: () => {
      rmSync(join(state, 'commands.log'), { force: true });
      rmSync(join(state, 'systemctl.log'), { force: true });
    },
    flag: (flag, on) => (on ? writeFileSync(join(state, flag), '') : rmSync(join(state, flag), { force: true })),
    stop: async () => {
      await sshd.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Deploy options for a test PBX: the given client key, no lock waiting, the PBX's own cron and systemd folders. */
export function deployOptions(p: Pbx, keyPath: string, extra: Partial<DeployOptions> = {}): DeployOptions {
  return {
    auth: { privateKey: readFileSync(keyPath) },
    lock: { waitSeconds: 0, leaseMinutes: 30, force: false },
    cronDir: p.cronDir,
    systemdDir: p.systemdDir,
    keepReleases: 3,
    ...extra,
  };
}

/** Writes a release for the PBX's host into `out` and reads it back as deploy does. */
export function buildRelease(out: string, p: Pbx, spec: Partial<ReleaseSpec> = {}) {
  writeRelease(out, p.host.name, { secretsDir: p.secretsDir, ...spec });
  return readLocalRelease(out, p.host.name);
}
