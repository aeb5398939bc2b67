import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { Host } from '../generator/rule-set.ts';
import type { KnownHostsEntry } from './host-key.ts';
import { bootstrapHost, uninstallHost } from './bootstrap.ts';
import { BUILD_VERSION, installPackage, versionMismatch, type LocalPackage } from './host-package.ts';
import { ensureAmiSecret, type SecretPaths } from './host-secrets.ts';
import { hashList } from './plan-state.ts';
import { CRON_FILE, DIALPLAN_FILE, UNIT_FILE, computePlan, hasChanges, isReload, type Actions, type HostPlan, type Pending, type Reload } from './plan.ts';
import { MANIFEST, sha256Hex, type LocalRelease, type Manifest } from './release-files.ts';
import { acquireLock, lockOwner, type LockOptions } from './remote-lock.ts';
import { dialplanVersion, reloadAndVerify } from './reload-verify.ts';
import { readRemoteState, type RemoteState } from './remote-state.ts';
import { connectSsh, RemoteError, type RemoteSession, type SshAuth, type SshTarget } from './ssh-connection.ts';
import { quote, sh } from './shell.ts';

export type Phase = 'connect' | 'lock' | 'compare' | 'package' | 'upload' | 'verify' | 'swap' | 'install' | 'reload' | 'restart' | 'rollback' | 'done' | 'failed';

export interface ProgressEvent {
  host: string;
  phase: Phase;
  detail?: string;
}

export interface DeployOptions {
  auth: SshAuth;
  knownHosts?: KnownHostsEntry[];
  lock: LockOptions;
  /** Where the cron file goes (cron ignores symlinks, so it is copied there). */
  cronDir: string;
  /** Where the systemd unit goes. */
  systemdDir: string;
  /** Complete releases kept on the host (current and previous always among them). */
  keepReleases: number;
  /** Reload (and verify) dialplan, manager and features even if their files did not change. */
  forceReload?: boolean;
  connectTimeoutMs?: number;
  onProgress?: (event: ProgressEvent) => void;
  /** The Debian package to install on a host that runs another mitschnitt version than the build's (else: refuse). */
  package?: LocalPackage;
  /** What deployAll does per host: a deploy (default), a bootstrap of a new host, or an uninstall (bootstrap.ts). */
  mode?: 'deploy' | 'bootstrap' | 'uninstall';
}

export const DEFAULT_CRON_DIR = '/etc/cron.d';
export const DEFAULT_SYSTEMD_DIR = '/etc/systemd/system';

export type HostStatus = 'deployed' | 'unchanged' | 'uninstalled' | 'failed';


export interface HostResult {
  host: string;
  status: HostStatus;
  /** The release now active on the host (after a rollback: the old one). */
  release: string | null;
  commit: string | null;
  bytesUploaded: number;
  filesUploaded: number;
  filesCopied: number;
  /** Bytes written to the SSH connection (protocol overhead included). */
  wireBytes: number;
  /** Remote commands the deploy ran on the host (round trips, besides SFTP transfers). */
  remoteCommands?: number;
  reloaded: Reload[];
  restarted: boolean;
  rolledBack: boolean;
  /** The mitschnitt version the host runs (after an upgrade by --package: the new one); null when unknown or none. */
  hostVersion: string | null;
  reason?: string;
  notes: string[];
}

export function sshTarget(host: Host, knownHosts?: KnownHostsEntry[]): SshTarget {
  return { name: host.name, address: host.address, port: host.port, user: host.user, fingerprint: host.hostKey, knownHosts };
}

/** secretsDir and the AMI secret's name from the release's policy.json (defaults as in the settings schema). */
export function secretPaths(release: LocalRelease): SecretPaths {
  let settings: { secretsDir?: string; ami?: { secret?: string } } = {};
  if ('policy.json' in release.manifest.files) {
    settings = (JSON.parse(release.read('policy.json').toString('utf8')) as { settings?: typeof settings }).settings ?? {};
  }
  return { secretsDir: settings.secretsDir ?? '/etc/mitschnitt/secrets', amiSecret: settings.ami?.secret ?? 'ami' };
}

/** A host's result before anything was done: failed until a deploy (or bootstrap, uninstall) says otherwise. */
export function initialResult(host: string, reason?: string): HostResult {
  return {
    host, status: 'failed', release: null, commit: null, bytesUploaded: 0, filesUploaded: 0, filesCopied: 0,
    wireBytes: 0, reloaded: [], restarted: false, rolledBack: false, hostVersion: null, ...(reason === undefined ? {} : { reason }), notes: [],
  };
}

/** Deploys one host: lock, compare, stage + verify, atomic swap, install, reload + verify, roll back on failure. */
export async function deployHost(host: Host, release: LocalRelease, options: DeployOptions): Promise<HostResult> {
  const result = initialResult(host.name);
  const progress = (phase: Phase, detail?: string) => options.onProgress?.({ host: host.name, phase, detail });
  let session: RemoteSession | undefined;
  try {
    progress('connect', `${host.user}@${host.address}:${host.port}`);
    session = await connectSsh(sshTarget(host, options.knownHosts), options.auth, { timeoutMs: options.connectTimeoutMs });
    session.marker = randomBytes(8).toString('hex');
    progress('lock');
    const lock = await acquireLock(session, host.dir, lockOwner(), options.lock);
    if (lock.broke) result.notes.push(`took over a stale deploy lock: ${lock.broke}`);
    try {
      await new HostDeploy(session, host, release, options, result, progress).deploy();
    } finally {
      await lock.release().catch(() => undefined); // a lost connection leaves a lock whose keeper is gone: stale
    }
  } catch (err) {
    result.status = 'failed';
    result.reason ??= err instanceof Error ? err.message : String(err);
  } finally {
    if (session) {
      result.wireBytes = session.bytesSent;
      result.remoteCommands = session.commandsRun;
      session.close();
    }
  }
  progress(result.status === 'failed' ? 'failed' : 'done', result.reason);
  return result;
}

class HostDeploy {
  private readonly dir: string;
  /** The release folder this deploy staged (see releaseName). */
  private staged?: string;
  /** Whether the new release's runtime was (re)started: then a rollback must restart the old one. */
  private restartAttempted = false;

  constructor(
    private readonly session: RemoteSession,
    private readonly host: Host,
    private readonly release: LocalRelease,
    private readonly options: DeployOptions,
    private readonly result: HostResult,
    private readonly progress: (phase: Phase, detail?: string) => void,
  ) {
    this.dir = host.dir.replace(/\/+$/, '');
  }

  private remote(what: string, command: string, stdin?: string): Promise<string> {
    return this.session.run(what, command, stdin);
  }

  private path(...parts: string[]): string {
    return posix.join(this.dir, ...parts);
  }

  async deploy(): Promise<void> {
    this.progress('compare');
    const state = await this.pinnedState(await this.readState());
    const plan = computePlan(this.release.manifest, state.manifest, state.drifted);
    // Until the swap, the host keeps what it had: a failure before it reports that release as the active one.
    this.result.release = state.current;
    this.result.commit = state.manifest?.commit ?? null;
    const secretCreated = !state.secretPresent && (await ensureAmiSecret(this.session, secretPaths(this.release)));
    if (secretCreated) this.result.notes.push('created the AMI secret include on the host');
    const expectedVersion = DIALPLAN_FILE in this.release.manifest.files ? dialplanVersion(this.release.read(DIALPLAN_FILE).toString('utf8')) : null;

    if (!hasChanges(plan)) {
      await this.repairUnchanged(state, expectedVersion, secretCreated);
      return;
    }

    const name = releaseName(this.release.id, state.current);
    const reloads = this.reloadsFor([...plan.actions.reload, ...state.pending.filter(isReload)], secretCreated);
    const restart = plan.actions.restartRuntime || state.pending.includes('restart');
    const install = plan.actions.installCron || plan.actions.removeCron || plan.actions.installUnit || state.pending.includes('install');
    // From the swap until everything is reloaded and verified, the host remembers what is still owed, so a deploy
    // cut off in between is completed by the next one even if that one finds no file to change.
    const owed: Pending[] = [...reloads, ...(install ? ['install' as const] : []), ...(restart ? ['restart' as const] : [])];
    try {
      // `pending` is written before the links move, so a cut between is covered.
      await this.stageAndSwap(state, plan, name, [this.pendingScript(owed), ...this.swapLines(name, state.current)].join('\n'));
      this.progress('install');
      await this.install(this.release.manifest, state.pending.includes('install') ? installAll(this.release.manifest, plan.actions) : plan.actions, plan.firstDeploy);
      this.progress('reload', reloads.join(', ') || 'nothing');
      let verdict = await reloadAndVerify(this.session, reloads, expectedVersion);
      this.result.reloaded = reloads;
      if (!verdict.ok && plan.firstDeploy && !(await this.asteriskIncludesUs())) {
        // Expected on a host's very first deploy: the #include lines can only be added once the files exist.
        this.result.notes.push(
          `installed but NOT ACTIVE: no file in ${this.host.asteriskDir} includes extensions_mitschnitt.conf yet; add the #include lines (README: GitOps) and run mitschnitt deploy --host ${this.host.name} --reload`,
        );
        verdict = { ok: true };
      }
      if (verdict.ok && restart) {
        this.progress('restart');
        verdict = await this.restartRuntime();
      }
      if (!verdict.ok) return await this.rollBack(state, verdict.reason);
    } catch (err) {
      if (err instanceof StagingFailed) throw err;
      return await this.rollBack(state, (err as Error).message);
    }
    this.result.status = 'deployed';
    this.result.release = name;
    this.result.commit = this.release.manifest.commit;
    // Nothing owed any more, and old releases pruned: one command.
    await this.remote('finishing (pending work done, old releases pruned)', `${this.pendingScript([])}\n${this.pruneScript(name, state.current)}`);
  }

  /** The host's state in one round trip (remote-state.ts), compared against this build, with the secret's presence. */
  private readState(): Promise<RemoteState> {
    return readRemoteState(this.session, this.dir, { asteriskDir: this.host.asteriskDir, build: this.release.manifest, secrets: secretPaths(this.release) });
  }

  /**
   * Version pinning (host-package.ts): the host must run the mitschnitt version that built the release. Another
   * version is upgraded (or downgraded) with the package given by --package, under this deploy's lock; without a
   * package the deploy stops here, before anything on the host changed.
   */
  private async pinnedState(state: RemoteState): Promise<RemoteState> {
    this.result.hostVersion = state.version;
    const mismatch = versionMismatch(this.host.name, state.version);
    if (!mismatch) return state;
    const pkg = this.options.package;
    if (!pkg) throw new RemoteError(mismatch);
    if (pkg.version !== BUILD_VERSION) {
      throw new RemoteError(`the package ${pkg.path} is mitschnitt ${pkg.version}, but these rules are built with mitschnitt ${BUILD_VERSION}: give the package of that version`);
    }
    this.progress('package', `installing mitschnitt ${pkg.version} (host has ${state.version ?? 'none'})`);
    await installPackage(this.session, pkg);
    const after = await this.readState();
    this.result.hostVersion = after.version;
    const still = versionMismatch(this.host.name, after.version);
    if (still) throw new RemoteError(`installed ${pkg.path}, yet ${still}`);
    this.result.notes.push(state.version ? `upgraded mitschnitt ${state.version} → ${pkg.version}` : `installed mitschnitt ${pkg.version}`);
    return after;
  }

  /** Writes (or, for nothing, removes) `<dir>/pending`: the reloads and restart a deploy still owes the host. */
  private async markPending(owed: Pending[]): Promise<void> {
    await this.remote('recording pending reloads', this.pendingScript(owed));
  }

  private pendingScript(owed: Pending[]): string {
    const file = this.path('pending');
    return owed.length ? sh`printf '%s\n' ${owed.join(' ')} > ${file + '.new'} && mv -f ${file + '.new'} ${file} || exit 1` : sh`rm -f ${file} || exit 1`;
  }

  /**
   * Nothing to upload: uploads 0 bytes and reloads nothing, unless something is owed: a running dialplan that is not
   * the deployed one (a refused reload, or the admin just added the #include), reloads or a restart an interrupted
   * deploy left pending, a new AMI secret include, or --reload. Those are done and verified.
   */
  private async repairUnchanged(state: RemoteState, expectedVersion: string | null, secretCreated: boolean): Promise<void> {
    const needed: Reload[] = state.pending.filter(isReload);
    if (expectedVersion && state.runningDialplan !== expectedVersion) needed.push('dialplan');
    const reloads = this.reloadsFor(needed, secretCreated);
    const restart = state.pending.includes('restart');
    if (state.pending.includes('install') && state.manifest) {
      this.progress('install');
      await this.install(state.manifest, installAll(state.manifest, { reload: [], installCron: false, removeCron: false, installUnit: false, restartRuntime: false }));
    }
    if (reloads.length) {
      this.progress('reload', reloads.join(', '));
      const verdict = await reloadAndVerify(this.session, reloads, expectedVersion);
      this.result.reloaded = reloads;
      if (!verdict.ok) {
        this.result.status = 'failed';
        this.result.reason = `files are up to date, but ${verdict.reason}`;
        return;
      }
    }
    if (restart) {
      this.progress('restart');
      const verdict = await this.restartRuntime();
      if (!verdict.ok) {
        this.result.status = 'failed';
        this.result.reason = `files are up to date, but ${verdict.reason}`;
        return;
      }
    }
    if (state.pending.length) await this.markPending([]);
    // A deploy cut off while staging leaves its half-built folder behind; this one holds the lock and no process of
    // the cut one is left (remote-lock.ts), so they go now rather than waiting for the next changing deploy.
    if (state.leftovers.length && state.current) {
      await this.prune(state.current, state.previous);
      this.result.notes.push(`removed what a cut-off deploy left: ${state.leftovers.join(', ')}`);
    }
    this.result.status = 'unchanged';
  }

  /**
   * Builds releases/<id>.tmp: unchanged files copied on the host from the current release, changed ones uploaded,
   * then every SHA-256 checked there before it is renamed to releases/<id>; only then does the same command run `swap`
   * (one command less per host). Nothing outside releases/ is touched before the swap, so a failure up to there leaves
   * the old set active (StagingFailed: no rollback needed); the next deploy removes a half-built folder. Any other
   * error, a lost connection included, may have come after the swap.
   */
  private async stageAndSwap(state: RemoteState, plan: HostPlan, id: string, swap: string): Promise<void> {
    this.staged = id;
    const files = this.release.manifest.files;
    if (state.releases.includes(id)) {
      this.progress('verify', `reusing release ${id}`);
      if (await this.verifyRelease(`releases/${id}`).then(() => true, () => false)) {
        this.progress('swap', id);
        await this.remote('recording pending work and switching the current release', swap);
        return;
      }
      // An older copy of this release was edited on the host: build it afresh.
      await this.remote('removing a damaged release', sh`rm -rf ${this.path('releases', id)}`).catch((err: Error) => {
        throw new StagingFailed(err.message);
      });
    }
    const tmp = `releases/${id}.tmp`;
    const dirs = [...new Set(Object.keys(files).map((p) => posix.dirname(p)).filter((d) => d !== '.'))].sort();
    const changed = new Set(plan.changes.map((c) => c.path));
    const copies = Object.keys(files).filter((p) => !changed.has(p));
    if (copies.length) this.progress('upload', `copying ${copies.length} unchanged file(s) on the host`);
    const uploads: [string, Buffer, string][] = Object.keys(files)
      .filter((p) => changed.has(p))
      .map((p) => [p, this.release.read(p), files[p]!.mode]);
    uploads.push([MANIFEST, this.release.manifestBytes, '0644']);
    // Everything goes on the command's stdin, in three parts the script reads in turn: the unchanged files' paths
    // (copied from the current release), each changed file as a `mode size path` line followed by exactly its bytes
    // (`head -c` reads no further), and the build's hashes for `sha256sum --check`. One command and no SFTP: every
    // remote round trip costs, and 20 hosts' worth of them add up. No command line grows with the file count (the
    // kernel's 128 KiB limit for one argument of `sh -c` / `sudo sh -c`), and since the command runs as root (also
    // through sudo) the files are root's as written, with the manifest's modes.
    const stdin: Buffer[] = [Buffer.from(copies.map((p) => `${p}\n`).join('') + '--\n')];
    for (const [i, [p, bytes, mode]] of uploads.entries()) {
      this.progress('upload', `${i + 1}/${uploads.length} ${p}`);
      stdin.push(Buffer.from(`${mode} ${bytes.length} ${p}\n`), bytes);
      this.result.bytesUploaded += bytes.length;
      this.result.filesUploaded++;
    }
    stdin.push(Buffer.from('-- 0 -\n'), Buffer.from(this.hashList()));
    this.result.filesCopied = copies.length;
    this.progress('verify', `checking every file, then switching to release ${id}`);
    const script = [
      'set -e',
      'umask 022',
      `cd ${quote(this.dir)}`,
      // Every process started here costs the host CPU, 20 hosts' worth of it: the shell does what it can itself.
      `[ ! -e ${quote(tmp)} ] || rm -rf ${quote(tmp)}`,
      // With umask 022 the folders are 0755 and new files 0644, the mode nearly every file has: no chmod for those.
      `mkdir -p ${[tmp, ...dirs.map((d) => `${tmp}/${d}`)].map(quote).join(' ')}`,
      // One cp for all unchanged files (a process per file was most of a changed deploy's work on the host). The list
      // is read up to its end marker first: xargs would read on into the uploads.
      `list=; while read -r p; do [ "$p" = -- ] && break; list="$list$p\n"; done`,
      `if [ -n "$list" ]; then printf '%s' "$list" | (cd current && xargs -d '\\n' cp --reflink=auto -p --parents -t ${quote(posix.join(this.dir, tmp))}); fi`,
      `while read -r mode size p; do [ "$mode" = -- ] && break; head -c "$size" > ${quote(tmp)}/"$p"; [ "$mode" = 0644 ] || chmod "$mode" ${quote(tmp)}/"$p"; done`,
      `cd ${quote(tmp)}`,
      'sha256sum --check --strict --quiet - || exit 86',
      `cd ${quote(this.dir)}`,
      sh`mv -T ${tmp} ${`releases/${id}`}`,
      `echo ${STAGED}`,
      swap,
    ].join('\n');
    const r = await this.session.exec(script, Buffer.concat(stdin));
    if (r.code === 0) return;
    const staged = r.stdout.split('\n').includes(STAGED);
    if (staged) {
      throw new RemoteError(`recording pending work and switching the current release failed on ${this.host.name} (exit ${r.code ?? r.signal}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}`);
    }
    if (r.code === 86) {
      throw new StagingFailed(`checksum verification on ${this.host.name} failed: ${(r.stdout + r.stderr).trim().split('\n').slice(0, 3).join(' / ')}`);
    }
    throw new StagingFailed(`staging the release failed on ${this.host.name} (exit ${r.code ?? r.signal}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}`);
  }

  /** The build's `sha256  path` lines, manifest included, for `sha256sum --check` on the host. */
  private hashList(): string {
    return hashList(this.release.manifest) + `${sha256Hex(this.release.manifestBytes)}  ${MANIFEST}\n`;
  }

  /** `sha256sum --check` on the host against the hashes we built: what runs is byte for byte what was built. */
  private async verifyRelease(relDir: string): Promise<void> {
    const r = await this.session.exec(sh`cd ${this.dir}/${relDir} && sha256sum --check --strict --quiet -`, this.hashList());
    if (r.code !== 0) {
      throw new RemoteError(`checksum verification on ${this.host.name} failed: ${(r.stdout + r.stderr).trim().split('\n').slice(0, 3).join(' / ')}`);
    }
  }

  /**
   * `current` (and `previous`) are switched with `ln -sfn x name.new && mv -T name.new name`: rename(2) replaces the
   * link atomically, so Asterisk's next read and the runtime see either the old or the new release, never a mix.
   */
  private async swap(id: string, oldCurrent: string | null, oldPrevious?: string | null): Promise<void> {
    await this.remote('switching the current release', this.swapLines(id, oldCurrent, oldPrevious).join('\n'));
  }

  private swapLines(id: string, oldCurrent: string | null, oldPrevious?: string | null): string[] {
    const lines = ['set -e', `cd ${quote(this.dir)}`];
    if (oldPrevious !== undefined) {
      lines.push(oldPrevious ? sh`ln -sfn ${`releases/${oldPrevious}`} previous.new && mv -T previous.new previous` : 'rm -f previous');
    } else if (oldCurrent && oldCurrent !== id) {
      lines.push(sh`ln -sfn ${`releases/${oldCurrent}`} previous.new && mv -T previous.new previous`);
    }
    lines.push(sh`ln -sfn ${`releases/${id}`} current.new && mv -T current.new current`);
    return lines;
  }

  /** Cron ignores symlinks and files not owned by root, so the cron file is copied (a temp name with a dot is ignored). */
  private async install(manifest: Manifest, actions: Actions, enable = false): Promise<void> {
    const lines = ['set -e', 'umask 022'];
    const cron = posix.join(this.options.cronDir, 'mitschnitt');
    const unit = posix.join(this.options.systemdDir, 'mitschnitt.service');
    // Temp names are per process ($$): two deploys to hosts sharing a machine never trip over each other's copy.
    if (actions.installCron && CRON_FILE in manifest.files) {
      const tmp = `${quote(posix.join(this.options.cronDir, '.mitschnitt.new'))}.$$`;
      lines.push(`cp ${quote(this.path('current', CRON_FILE))} ${tmp} && chmod 0644 ${tmp} && mv -f ${tmp} ${quote(cron)}`);
    }
    if (actions.removeCron) lines.push(sh`rm -f ${cron}`);
    if (actions.installUnit && UNIT_FILE in manifest.files) {
      const tmp = `${quote(`${unit}.new`)}.$$`;
      lines.push(`cp ${quote(this.path('current', UNIT_FILE))} ${tmp} && chmod 0644 ${tmp} && mv -f ${tmp} ${quote(unit)}`);
      lines.push('systemctl daemon-reload');
      if (enable) lines.push('systemctl enable mitschnitt');
    }
    if (lines.length > 2) await this.remote('installing the cron file and systemd unit', lines.join('\n'));
  }

  private async restartRuntime(): Promise<{ ok: true } | { ok: false; reason: string }> {
    this.restartAttempted = true;
    const r = await this.session.exec('systemctl restart mitschnitt');
    this.result.restarted = r.code === 0;
    return r.code === 0 ? { ok: true } : { ok: false, reason: `systemctl restart mitschnitt failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().split('\n')[0] ?? ''}` };
  }

  /** Puts the previous set back, reinstalls and reloads what the failed deploy changed, and reports why. */
  private async rollBack(state: RemoteState, reason: string): Promise<void> {
    this.result.status = 'failed';
    if (this.session.isLost) return this.reportCut(state, reason);
    const old = state.current;
    if (!old || !state.manifest) {
      // First deploy: there is no older set. The files stay so the admin can add the #include lines; the next
      // deploy (unchanged) reloads and verifies again.
      this.result.reason = `${reason} (first deploy: nothing to roll back to; the files stay in ${this.dir}/current and the next deploy retries the reloads)`;
      this.result.release = this.staged ?? this.release.id;
      this.result.commit = this.release.manifest.commit;
      return;
    }
    this.progress('rollback', `back to ${old}`);
    try {
      await this.swap(old, this.staged!, state.previous);
    } catch (err) {
      if (this.session.isLost) return this.reportCut(state, reason);
      this.result.release = this.staged!;
      this.result.commit = this.release.manifest.commit;
      this.result.reason = `${reason}; rolling back failed, the host still runs the new release ${this.staged}: ${(err as Error).message}`;
      return;
    }
    // Only now is the old set what the host runs: the report says so, and not before.
    this.result.rolledBack = true;
    this.result.release = old;
    this.result.commit = state.manifest.commit;
    const back = computePlan(state.manifest, this.release.manifest);
    const problems: string[] = [];
    try {
      await this.install(state.manifest, back.actions);
      const oldVersion = await this.oldDialplanVersion(old);
      const again = await reloadAndVerify(this.session, this.result.reloaded, oldVersion);
      if (!again.ok) problems.push(`reloading the old set failed too: ${again.reason}`);
      if (this.restartAttempted) {
        const restart = await this.restartRuntime();
        if (!restart.ok) problems.push(restart.reason);
      }
      await this.remote('removing the failed release', sh`rm -rf ${this.path('releases', this.staged!)}`);
      if (problems.length === 0) await this.markPending([]);
    } catch (err) {
      problems.push(`rollback incomplete: ${(err as Error).message}`);
    }
    this.result.reason = `${reason}; rolled back to release ${old}${problems.length ? ` — ${problems.join('; ')}` : ''}`;
  }

  /**
   * The connection died after `<dir>/pending` was written: nothing can be rolled back over it, and which release the
   * host runs depends on how far it got. Ask the host over a fresh connection (read-only, no lock) and report that,
   * with the work it still owes (the next deploy does it), rather than the rollback that never happened.
   */
  private async reportCut(state: RemoteState, reason: string): Promise<void> {
    this.result.rolledBack = false;
    let fresh: RemoteSession | undefined;
    try {
      fresh = await connectSsh(sshTarget(this.host, this.options.knownHosts), this.options.auth, { timeoutMs: Math.min(this.options.connectTimeoutMs ?? 10_000, 10_000) });
      const now = await readRemoteState(fresh, this.dir, { asteriskDir: this.host.asteriskDir });
      const which = now.current === this.staged ? 'the new release' : now.current === state.current ? 'the old release' : 'release';
      this.result.release = now.current;
      this.result.commit = now.manifest?.commit ?? null;
      this.result.reason =
        `${reason}; the connection was lost, so nothing was rolled back: the host runs ${which} ${now.current ?? 'none'}` +
        (now.pending.length ? ` and still owes ${now.pending.join(', ')} (the next deploy does it)` : '');
    } catch (err) {
      this.result.release = null;
      this.result.commit = null;
      this.result.reason =
        `${reason}; the connection was lost and the host could not be asked again (${(err as Error).message}): it runs release ` +
        `${this.staged} or ${state.current ?? 'none'}, possibly with reloads owed; mitschnitt plan shows which`;
    } finally {
      fresh?.close();
    }
  }

  private async oldDialplanVersion(id: string): Promise<string | null> {
    const bytes = await this.session.readFile(this.path('releases', id, DIALPLAN_FILE));
    return bytes ? dialplanVersion(bytes.toString('utf8')) : null;
  }

  /**
   * The reloads to run: those the changed files need, plus `manager` when the AMI secret include was just created
   * (only a reload hands it to Asterisk), plus all of them with --reload. Always in the order dialplan, manager, features.
   */
  private reloadsFor(needed: Reload[], secretCreated: boolean): Reload[] {
    const all: Reload[] = ['dialplan', 'manager', 'features'];
    return all.filter((r) => needed.includes(r) || (r === 'manager' && secretCreated) || this.options.forceReload);
  }

  /** Whether any .conf file in the Asterisk config folder mentions our dialplan include. */
  private async asteriskIncludesUs(): Promise<boolean> {
    const r = await this.session.exec(sh`grep -Rqs --include=*.conf -e extensions_mitschnitt.conf ${this.host.asteriskDir}`);
    return r.code === 0;
  }

  /** Keeps current, previous and the newest others up to keepReleases; removes leftover staging and upload folders. */
  private async prune(current: string, previous: string | null): Promise<void> {
    await this.remote('pruning old releases', this.pruneScript(current, previous));
  }

  private pruneScript(current: string, previous: string | null): string {
    const keep = Math.max(2, this.options.keepReleases);
    const script = [
      // Upload folders of deploys cut off before they finished (this deploy holds the lock: none is in use).
      sh`[ ! -e ${this.path('staging')} ] || rm -rf ${this.path('staging')}`,
      `cd ${quote(this.path('releases'))} || exit 0`,
      `n=0; for r in $(ls -1t); do`,
      `  case "$r" in *.tmp) rm -rf "$r"; continue;; esac`,
      `  n=$((n+1))`,
      `  if [ "$r" != ${quote(current)} ] && [ "$r" != ${quote(previous ?? '')} ] && [ $n -gt ${keep} ]; then rm -rf "$r"; fi`,
      'done',
    ].join('\n');
    return script;
  }
}


/** Staging failed before the swap: the host still runs what it ran, nothing to roll back. */
class StagingFailed extends RemoteError {}

/** What the staging command prints once the release folder is complete and checked, before it swaps. */
const STAGED = 'mitschnitt-release-staged';

/** An interrupted install is redone in full: cron file and unit as the release has them. */
function installAll(manifest: Manifest, actions: Actions): Actions {
  return { ...actions, installCron: CRON_FILE in manifest.files, removeCron: !(CRON_FILE in manifest.files), installUnit: UNIT_FILE in manifest.files };
}

/**
 * The folder name for a release: its content id, or `<id>-<n>` when the live release has that id but must be rebuilt
 * (files edited on the host): the live folder is never written to, the repaired copy is swapped in like any release.
 */
export function releaseName(id: string, current: string | null): string {
  if (current === id) return `${id}-1`;
  if (current?.startsWith(`${id}-`)) return `${id}-${Number(current.slice(id.length + 1)) + 1}`;
  return id;
}

/** Deploys many hosts, at most `parallel` at a time; results in the order of `hosts`. */
export async function deployAll(
  hosts: Host[],
  release: (host: Host) => LocalRelease,
  options: DeployOptions,
  parallel: number,
): Promise<HostResult[]> {
  const results: HostResult[] = new Array(hosts.length);
  let next = 0;
  const worker = async () => {
    while (next < hosts.length) {
      const i = next++;
      const host = hosts[i]!;
      if (options.mode === 'uninstall') {
        results[i] = await uninstallHost(host, options);
        continue;
      }
      let local: LocalRelease;
      try {
        local = release(host);
      } catch (err) {
        results[i] = initialResult(host.name, (err as Error).message);
        continue;
      }
      results[i] = options.mode === 'bootstrap' ? await bootstrapHost(host, local, options) : await deployHost(host, local, options);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, hosts.length)) }, worker));
  return results;
}
