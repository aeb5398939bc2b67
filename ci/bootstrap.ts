import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { Policy } from '../generator/policy.ts';
import type { Host } from '../generator/rule-set.ts';
import { addIncludes, removeChannelvarsReset, removeIncludes } from './asterisk-includes.ts';
import { deployHost, initialResult, sshTarget, type DeployOptions, type HostResult, type Phase } from './deploy.ts';
import { DIALPLAN_FILE } from './plan.ts';
import type { LocalRelease } from './release-files.ts';
import { acquireLock, lockOwner } from './remote-lock.ts';
import { dialplanVersion, reloadAndVerify, runningDialplanVersion } from './reload-verify.ts';
import { chooseSelfTestCall, runSelfTestCall } from './selftest-call.ts';
import { connectSsh, type RemoteSession } from './ssh-connection.ts';
import { quote, sh } from './shell.ts';

/** Default spool (settings schema) when a policy names none. */
const DEFAULT_SPOOL = '/var/spool/asterisk/mitschnitt';

function policyOf(release: LocalRelease): Policy {
  return JSON.parse(release.read('policy.json').toString('utf8')) as Policy;
}

/** Opens a root session (directly or through sudo) holding the host's deploy lock, runs `work`, and lets both go. */
async function withLockedSession<T>(host: Host, options: DeployOptions, work: (session: RemoteSession, notes: string[]) => Promise<T>): Promise<{ value: T; notes: string[] }> {
  const session = await connectSsh(sshTarget(host, options.knownHosts), options.auth, { timeoutMs: options.connectTimeoutMs });
  session.marker = randomBytes(8).toString('hex');
  const notes: string[] = [];
  try {
    const lock = await acquireLock(session, host.dir, lockOwner(), options.lock);
    if (lock.broke) notes.push(`took over a stale deploy lock: ${lock.broke}`);
    try {
      return { value: await work(session, notes), notes };
    } finally {
      await lock.release().catch(() => undefined);
    }
  } finally {
    session.close();
  }
}

/**
 * `mitschnitt deploy --bootstrap --package FILE`: from a bare Debian host with Asterisk to recording calls, and
 * idempotent (a second run changes nothing):
 * 1. a normal deploy, which installs or upgrades the package first (version pinning, host-package.ts: uploaded over
 *    SSH, the PBX needs no internet for it) and then installs the release;
 * 2. under the deploy lock: the spool the rules name (owner, mode 2770, default ACL; the package makes the default
 *    one), the three #include lines with their marker (only now that their targets exist), a reload of dialplan,
 *    manager and features verified like every deploy, the service enabled and (re)started so it logs in with the
 *    AMI user the reload just created;
 * 3. a test call through `mitschnitt-check` that must decide as `explain` says (selftest-call.ts).
 */
export async function bootstrapHost(host: Host, release: LocalRelease, options: DeployOptions): Promise<HostResult> {
  const progress = (phase: Phase, detail?: string) => options.onProgress?.({ host: host.name, phase, detail });
  const result = await deployHost(host, release, { ...options, onProgress: (e) => e.phase !== 'done' && options.onProgress?.(e) });
  if (result.status === 'failed') {
    progress('failed', result.reason);
    return result;
  }
  // Expected on a fresh host; bootstrap itself adds the lines.
  result.notes = result.notes.filter((n) => !n.startsWith('installed but NOT ACTIVE'));
  try {
    const { value: changed, notes } = await withLockedSession(host, options, async (session, notes) => {
      const policy = policyOf(release);
      const spool = policy.settings.spool ?? DEFAULT_SPOOL;
      progress('install', `spool ${spool}`);
      const spoolOut = await session.run(
        'preparing the spool',
        [
          'set -eu',
          `s=${quote(spool)}`,
          'if [ ! -d "$s" ]; then',
          '  getent group asterisk >/dev/null || addgroup --system --quiet asterisk',
          '  owner=root; if getent passwd asterisk >/dev/null; then owner=asterisk; fi',
          '  install -d -m 0755 "$(dirname "$s")"; install -d -o "$owner" -g asterisk -m 2770 "$s"; echo created',
          'fi',
          'if ! getfacl -p "$s" 2>/dev/null | grep -q "^default:group::rwx"; then setfacl -d -m u::rwx,g::rwx,o::-,m::rwx "$s"; echo acl; fi',
        ].join('\n'),
      );
      if (spoolOut.includes('created')) notes.push(`created the spool ${spool} (asterisk group, 2770, default ACL)`);
      else if (spoolOut.includes('acl')) notes.push(`set the default ACL on the spool ${spool}`);

      progress('install', '#include lines');
      const added = await addIncludes(session, host);
      const expected = dialplanVersion(release.read(DIALPLAN_FILE).toString('utf8'));
      if (added.length) {
        notes.push(`added the #include line to ${added.map((f) => posix.join(host.asteriskDir, f)).join(', ')}`);
        progress('reload', 'dialplan, manager, features');
        const verdict = await reloadAndVerify(session, ['dialplan', 'manager', 'features'], expected);
        result.reloaded = ['dialplan', 'manager', 'features'];
        if (!verdict.ok) throw new Error(`after adding the #include lines: ${verdict.reason}`);
      } else if ((await runningDialplanVersion(session)) !== expected) {
        throw new Error(`the #include lines are in place, but Asterisk does not run dialplan version ${expected}: see the Asterisk log`);
      }

      progress('restart', 'mitschnitt service');
      const service = await session.run(
        'enabling and starting the service',
        [
          'set -eu',
          'if ! systemctl is-enabled --quiet mitschnitt; then systemctl enable --quiet mitschnitt; echo enabled; fi',
          // After new includes the AMI user only now exists: a restart logs in at once instead of after a backoff.
          added.length ? 'systemctl restart mitschnitt; echo restarted' : 'if ! systemctl is-active --quiet mitschnitt; then systemctl start mitschnitt; echo started; fi',
        ].join('\n'),
      );
      const serviceSteps = service.split('\n').filter(Boolean);
      if (serviceSteps.length) notes.push(`service ${serviceSteps.join(' and ')}`);
      if (serviceSteps.includes('restarted')) result.restarted = true;

      const call = chooseSelfTestCall(policy);
      if (call) {
        progress('verify', `test call ${call.from} → ${call.to}`);
        const verdict = await runSelfTestCall(session, call);
        if (!verdict.ok) throw new Error(verdict.reason);
        notes.push(`a test call ${call.from} → ${call.to} (${call.origin}) was decided '${verdict.decision}', as explain says`);
      }
      return added.length > 0 || spoolOut.trim() !== '' || serviceSteps.length > 0;
    });
    result.notes.push(...notes);
    if (changed) result.status = 'deployed';
  } catch (err) {
    result.status = 'failed';
    result.reason = `bootstrap: ${(err as Error).message}`;
  }
  progress(result.status === 'failed' ? 'failed' : 'done', result.reason);
  return result;
}

/**
 * `mitschnitt deploy --uninstall`: takes mitschnitt out of Asterisk and the host, keeping the recordings and
 * journals (and the secrets and the package, which `apt-get purge mitschnitt` removes). Order matters: the service
 * stops first (nothing records half-way), the #include lines go with `channelvars` emptied for one `manager reload`
 * (a deleted line would keep the old list until Asterisk restarts), the reloads are verified (no mitschnitt-check
 * left), and only then are the release folders removed that the includes pointed at.
 */
export async function uninstallHost(host: Host, options: DeployOptions): Promise<HostResult> {
  const progress = (phase: Phase, detail?: string) => options.onProgress?.({ host: host.name, phase, detail });
  const result = initialResult(host.name);
  const dir = host.dir.replace(/\/+$/, '');
  try {
    progress('connect', `${host.user}@${host.address}:${host.port}`);
    const { notes } = await withLockedSession(host, options, async (session, notes) => {
      const policyBytes = await session.readFile(posix.join(dir, 'current', 'policy.json'));
      const settings = policyBytes ? ((JSON.parse(policyBytes.toString('utf8')) as Partial<Policy>).settings ?? null) : null;
      progress('restart', 'stopping the service');
      await session.run('stopping the service', 'systemctl stop mitschnitt 2>/dev/null || true; systemctl disable --quiet mitschnitt 2>/dev/null || true');
      progress('reload', 'removing the #include lines');
      const removed = await removeIncludes(session, host, { clearChannelvars: true });
      if (removed.length) notes.push(`removed the #include lines from ${removed.map((f) => posix.join(host.asteriskDir, f)).join(', ')}`);
      const verdict = await reloadAndVerify(session, ['dialplan', 'manager', 'features'], null);
      if (!verdict.ok) throw new Error(`reloading Asterisk without mitschnitt failed: ${verdict.reason}`);
      if (await removeChannelvarsReset(session, host)) {
        const again = await reloadAndVerify(session, ['manager'], null);
        if (!again.ok) throw new Error(again.reason);
      }
      result.reloaded = ['dialplan', 'manager', 'features'];
      const still = await runningDialplanVersion(session);
      if (still) throw new Error(`Asterisk still runs mitschnitt's dialplan (version ${still}) after the reload: is it included from another file in ${host.asteriskDir}?`);
      progress('install', 'removing releases, cron file and unit');
      await session.run(
        'removing the releases, cron file and unit',
        [
          'set -eu',
          sh`rm -f ${posix.join(options.cronDir, 'mitschnitt')} ${posix.join(options.systemdDir, 'mitschnitt.service')}`,
          'systemctl daemon-reload 2>/dev/null || true',
          sh`cd ${dir} 2>/dev/null || exit 0`,
          'rm -rf releases staging current previous current.new previous.new pending',
        ].join('\n'),
      );
      // The admin's own dialplan is theirs to edit; a Gosub into the removed routine now ends the call, so say where.
      const callers = (await session.exec(sh`grep -RlsF '--include=*.conf' mitschnitt-check ${host.asteriskDir}`)).stdout.split('\n').filter(Boolean);
      if (callers.length) notes.push(`your dialplan still calls mitschnitt-check in ${callers.join(', ')}: remove those Gosub lines, calls through them now fail`);
      const spool = settings?.spool ?? DEFAULT_SPOOL;
      const secrets = settings?.secretsDir ?? '/etc/mitschnitt/secrets';
      notes.push(`kept the recordings and journals in ${spool} and the secrets in ${secrets}; the package stays installed (apt-get purge mitschnitt removes it and the secrets, never the recordings)`);
    });
    result.notes.push(...notes);
    result.status = 'uninstalled';
  } catch (err) {
    result.reason = `uninstall: ${(err as Error).message}`;
  }
  progress(result.status === 'failed' ? 'failed' : 'done', result.reason);
  return result;
}
