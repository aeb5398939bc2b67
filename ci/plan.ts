import { createTwoFilesPatch } from 'diff';
import type { Manifest, ManifestEntry } from './release-files.ts';

export type ChangeKind = 'add' | 'change' | 'remove';

export interface FileChange {
  path: string;
  kind: ChangeKind;
  /** The host's copy differs from what its manifest says (edited or deleted there by hand): it is replaced. */
  drift?: boolean;
  before?: ManifestEntry;
  after?: ManifestEntry;
}

export type Reload = 'dialplan' | 'manager' | 'features';

/** What a deploy can owe a host after the swap (kept in `<dir>/pending` until done). */
export type Pending = Reload | 'install' | 'restart';

export function isReload(word: Pending): word is Reload {
  return word !== 'restart' && word !== 'install';
}

/** What a deploy does on the host besides swapping the files. */
export interface Actions {
  /** Asterisk reloads, in the order they run. */
  reload: Reload[];
  installCron: boolean;
  removeCron: boolean;
  installUnit: boolean;
  restartRuntime: boolean;
}

export interface HostPlan {
  host: string;
  firstDeploy: boolean;
  deployedCommit: string | null;
  newCommit: string | null;
  changes: FileChange[];
  actions: Actions;
}

export const CRON_FILE = 'cron/mitschnitt';
export const UNIT_FILE = 'systemd/mitschnitt.service';
export const DIALPLAN_FILE = 'asterisk/extensions_mitschnitt.conf';
/** Files the runtime (`mitschnitt serve`) reads at start: a change needs a restart. */
const RUNTIME_FILES = new Set(['policy.json', UNIT_FILE]);

/** Which Asterisk reload picks up a changed file: only the module whose config changed is reloaded. */
export function reloadFor(path: string): Reload | null {
  if (!path.startsWith('asterisk/')) return null;
  const name = path.slice('asterisk/'.length);
  if (name.startsWith('extensions')) return 'dialplan';
  if (name.startsWith('manager')) return 'manager';
  if (name.startsWith('features')) return 'features';
  return null;
}

/**
 * Compares the built release with the one deployed on a host (null: nothing deployed yet). `drifted` names files of
 * the host's release that no longer match its manifest: they count as changed even where the manifests agree. Pure.
 */
export function computePlan(local: Manifest, remote: Manifest | null, drifted: string[] = []): HostPlan {
  const before = remote?.files ?? {};
  const after = local.files;
  const changes: FileChange[] = [];
  for (const path of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
    const b = before[path];
    const a = after[path];
    if (!b && a) changes.push({ path, kind: 'add', after: a });
    else if (b && !a) changes.push({ path, kind: 'remove', before: b });
    else if (b && a && (b.sha256 !== a.sha256 || b.mode !== a.mode || drifted.includes(path))) {
      changes.push({ path, kind: 'change', before: b, after: a, ...(drifted.includes(path) ? { drift: true } : {}) });
    }
  }
  const touched = (path: string) => changes.some((c) => c.path === path);
  const reload = (['dialplan', 'manager', 'features'] as const).filter((r) =>
    changes.some((c) => reloadFor(c.path) === r),
  );
  return {
    host: local.host,
    firstDeploy: remote === null,
    deployedCommit: remote?.commit ?? null,
    newCommit: local.commit,
    changes,
    actions: {
      reload,
      installCron: touched(CRON_FILE) && CRON_FILE in after,
      removeCron: touched(CRON_FILE) && !(CRON_FILE in after),
      installUnit: touched(UNIT_FILE) && UNIT_FILE in after,
      restartRuntime: changes.some((c) => RUNTIME_FILES.has(c.path)) && UNIT_FILE in after,
    },
  };
}

export function hasChanges(plan: HostPlan): boolean {
  return plan.changes.length > 0;
}

/** Text files get a unified diff; anything with a NUL byte or invalid UTF-8 is shown as binary. */
function asText(bytes: Buffer | null): string | null {
  if (bytes === null) return '';
  if (bytes.includes(0)) return null;
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : null;
}

export function unifiedDiff(path: string, before: Buffer | null, after: Buffer | null): string {
  const a = asText(before);
  const b = asText(after);
  if (a === null || b === null) return `Binary file ${path} ${before && after ? 'changed' : before ? 'removed' : 'added'}\n`;
  return createTwoFilesPatch(before ? `a/${path}` : '/dev/null', after ? `b/${path}` : '/dev/null', a, b, '', '', { context: 3 })
    .split('\n')
    .slice(1) // drop jsdiff's "====" separator line
    .join('\n');
}

const SIGN: Record<ChangeKind, string> = { add: '+', change: '~', remove: '-' };

/** What will happen, in words: the Terraform-style summary lines after the file list. */
export function describeActions(plan: HostPlan): string[] {
  const lines: string[] = [];
  const a = plan.actions;
  lines.push(`reload: ${a.reload.length ? a.reload.join(', ') : 'nothing'}`);
  if (a.installCron) lines.push('install: cron file');
  if (a.removeCron) lines.push('remove: cron file');
  if (a.installUnit) lines.push('install: systemd unit (daemon-reload)');
  if (a.restartRuntime) lines.push('restart: mitschnitt service');
  return lines;
}

/** Renders one host's plan; `diffs` maps changed paths to their unified diff (absent: not shown). */
export function formatPlan(plan: HostPlan, diffs: Map<string, string> = new Map()): string {
  const short = (c: string | null) => (c ? c.slice(0, 12) : 'none');
  const head = `host ${plan.host}: ${plan.firstDeploy ? 'nothing deployed yet' : `deployed ${short(plan.deployedCommit)}`} → build ${short(plan.newCommit)}`;
  if (!hasChanges(plan)) return `${head}\n  no changes\n`;
  const lines = [head];
  for (const c of plan.changes) {
    const notes = [
      ...(c.kind === 'change' && c.before!.mode !== c.after!.mode ? [`mode ${c.before!.mode} → ${c.after!.mode}`] : []),
      ...(c.drift ? ['changed on the host by hand: will be replaced'] : []),
    ];
    lines.push(`  ${SIGN[c.kind]} ${c.path}${notes.length ? ` (${notes.join('; ')})` : ''}`);
    const d = diffs.get(c.path);
    if (d) lines.push(...d.trimEnd().split('\n').map((l) => `      ${l}`));
  }
  const counts = (['add', 'change', 'remove'] as const).map((k) => plan.changes.filter((c) => c.kind === k).length);
  lines.push(`  ${counts[0]} to add, ${counts[1]} to change, ${counts[2]} to remove`);
  lines.push(...describeActions(plan).map((l) => `  ${l}`));
  return lines.join('\n') + '\n';
}
