import { BUNDLED_RULES, parseFlags, type Command } from '../bin/cli-support.ts';
import type { Host } from '../generator/rule-set.ts';
import { buildAndSelect, COMMON_FLAGS, DEFAULT_PARALLEL, positiveInt, sshSetup } from './command-support.ts';
import { sshTarget } from './deploy.ts';
import type { KnownHostsEntry } from './host-key.ts';
import { computePlan, DIALPLAN_FILE, formatPlan, hasChanges, unifiedDiff, type HostPlan } from './plan.ts';
import { readLocalRelease } from './release-files.ts';
import { versionMismatch } from './host-package.ts';
import { driftedFiles, hashList, parsePlanState, planStateCommand } from './plan-state.ts';
import { dialplanVersion } from './reload-verify.ts';
import { connectSsh, RemoteError, type SshAuth } from './ssh-connection.ts';
import { checkRootAccess } from './sudo.ts';

/** Exit codes of `plan` (like `terraform plan -detailed-exitcode`): 3 = there is something to deploy. */
export const PLAN_EXIT = { noChanges: 0, error: 1, changes: 3 } as const;

export interface HostPlanReport {
  host: string;
  status: 'changes' | 'unchanged' | 'error';
  plan?: HostPlan;
  /** Unified diffs of changed text files, by path. */
  diffs?: Record<string, string>;
  /** Reloads, install or restart an interrupted deploy still owes the host: the next deploy does them. */
  pending?: string[];
  /** Set when the files are current but Asterisk runs another dialplan version: deploy would reload it. */
  staleDialplan?: string;
  /** The mitschnitt version installed on the host (null: none on the PATH). */
  hostVersion?: string | null;
  /** Why deploy would refuse the host (another mitschnitt version): `--package` upgrades it. */
  versionMismatch?: string;
  /** Asterisk includes none of the deployed files yet: `deploy --bootstrap` adds the #include lines. */
  notIncluded?: boolean;
  error?: string;
}

/**
 * Reads what is deployed with one read-only command (plan-state.ts: also what a plan-only key is pinned to on the
 * host) and compares it with the build. No lock, nothing written.
 */
export async function planHost(host: Host, outDir: string, auth: SshAuth, knownHosts?: KnownHostsEntry[]): Promise<HostPlanReport> {
  let session;
  try {
    const release = readLocalRelease(outDir, host.name);
    session = await connectSsh(sshTarget(host, knownHosts), auth);
    const r = await session.exec(planStateCommand(host.dir, host.asteriskDir), hashList(release.manifest));
    if (!r.stdout.startsWith('mitschnitt-plan-state')) {
      // `asterisk -rx` needs root: a non-root user plans through the deploy user's sudo rule; say what is missing.
      await checkRootAccess(session);
      throw new RemoteError(`${host.name}: reading the deployed state failed (exit ${r.code ?? r.signal}): ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' / ')}`);
    }
    const state = parsePlanState(r.stdout, host.name);
    const plan = computePlan(release.manifest, state.manifest, driftedFiles(state));
    const mismatch = versionMismatch(host.name, state.version);
    const extra = {
      hostVersion: state.version,
      ...(mismatch ? { versionMismatch: mismatch } : {}),
      ...(state.includes === 0 ? { notIncluded: true } : {}),
    };
    const attention = extra.versionMismatch !== undefined || extra.notIncluded === true;
    const diffs: Record<string, string> = {};
    for (const change of plan.changes) {
      const before = change.kind === 'add' ? null : (state.files.get(change.path) ?? null);
      const after = change.kind === 'remove' ? null : release.read(change.path);
      diffs[change.path] = unifiedDiff(change.path, before, after);
    }
    if (hasChanges(plan)) return { host: host.name, status: 'changes', plan, diffs, pending: state.pending, ...extra };
    if (state.pending.length) return { host: host.name, status: 'changes', plan, pending: state.pending, ...extra };
    const expected = DIALPLAN_FILE in release.manifest.files ? dialplanVersion(release.read(DIALPLAN_FILE).toString('utf8')) : null;
    if (expected && state.runningDialplan !== expected && !extra.notIncluded) {
      return { host: host.name, status: 'changes', plan: { ...plan, actions: { ...plan.actions, reload: ['dialplan'] } }, staleDialplan: state.runningDialplan ?? 'none', ...extra };
    }
    return { host: host.name, status: attention ? 'changes' : 'unchanged', plan, ...extra };
  } catch (err) {
    return { host: host.name, status: 'error', error: err instanceof Error ? err.message : String(err) };
  } finally {
    session?.close();
  }
}

export function formatReport(report: HostPlanReport): string {
  if (report.status === 'error') return `host ${report.host}: ERROR ${report.error}\n`;
  let text = formatPlan(report.plan!, new Map(Object.entries(report.diffs ?? {})));
  if (report.pending?.length) text += `  an interrupted deploy still owes: ${report.pending.join(', ')} (the next deploy does it)\n`;
  if (report.staleDialplan) {
    text = text.replace(/  no changes\n$/, `  no file changes, but Asterisk runs dialplan version ${report.staleDialplan}: deploy reloads the dialplan\n`);
  }
  if (report.versionMismatch) text += `  mitschnitt: ${report.versionMismatch}\n`;
  if (report.notIncluded) text += `  not active: Asterisk includes none of mitschnitt's files yet; deploy --bootstrap adds the three #include lines, reloads and starts the service\n`;
  return text;
}

export const planCommand: Command = {
  summary: 'Build, then show per host what a deploy would change (files with diffs, reloads, restarts). Read-only.',
  usage: [
    'mitschnitt plan [--host NAME]... | [--all] [--rules DIR] [--out DIR] [--json] [--identity FILE] [--known-hosts FILE] [--parallel N]',
    'Exit: 0 no changes, 3 changes to deploy, 1 error (bad rules, unreachable host, refused host key), 2 usage error.',
  ].join('\n'),
  async run(argv) {
    const { values } = parseFlags(argv, COMMON_FLAGS);
    const parallel = positiveInt(values.parallel, '--parallel', DEFAULT_PARALLEL);
    const outDir = values.out ?? 'out';
    const { auth, knownHosts } = sshSetup(values.identity, values['known-hosts']);
    const hosts = await buildAndSelect(values.rules ?? BUNDLED_RULES, outDir, values.host, values.all);
    const reports: HostPlanReport[] = new Array(hosts.length);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(parallel, hosts.length) }, async () => {
        while (next < hosts.length) {
          const i = next++;
          reports[i] = await planHost(hosts[i]!, outDir, auth, knownHosts);
        }
      }),
    );
    if (values.json) console.log(JSON.stringify({ hosts: reports }, null, 2));
    else process.stdout.write(reports.map(formatReport).join('\n'));
    if (reports.some((r) => r.status === 'error')) return PLAN_EXIT.error;
    return reports.some((r) => r.status === 'changes') ? PLAN_EXIT.changes : PLAN_EXIT.noChanges;
  },
};
