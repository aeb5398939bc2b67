import { resolve } from 'node:path';
import { simpleGit } from 'simple-git';
import { UserError } from '../bin/cli-support.ts';
import { validateRules } from './validate.ts';
import { resolvePolicy } from './resolve-policy.ts';
import { renderHostFiles, type GeneratedFile } from './render-host-files.ts';
import { buildManifest, fileBytes, renderManifest } from './manifest.ts';
import { writeOutput } from './write-output.ts';
import type { RuleError } from './rule-error.ts';
import type { RuleSet } from './rule-set.ts';

export interface BuildOptions {
  rulesDir: string;
  outDir: string;
}

export interface HostSummary {
  host: string;
  files: number;
  bytes: number;
}

export interface BuildSummary {
  outDir: string;
  commit: string | null;
  dirty: boolean;
  hosts: HostSummary[];
  users: number;
  teams: number;
  rules: number;
  activeRules: number;
  files: number;
  bytes: number;
}

/** `warnings` are validate's: they never stop a build, but the admin should see them. */
export type BuildResult = { ok: true; summary: BuildSummary; warnings: RuleError[] } | { ok: false; errors: RuleError[]; warnings: RuleError[] };

/** validate → resolve per host → render → manifest → write out/ atomically. */
export async function build({ rulesDir, outDir }: BuildOptions): Promise<BuildResult> {
  const validation = validateRules(rulesDir);
  if (!validation.ok) return { ok: false, errors: validation.errors, warnings: validation.warnings };
  const ruleSet = validation.ruleSet;
  const git = await gitState(ruleSet.dir);
  const output = renderAll(ruleSet, git);
  writeOutput(outDir, output);

  const hosts = [...output].map(([host, files]) => ({ host, files: files.length, bytes: files.reduce((n, f) => n + fileBytes(f).length, 0) }));
  return {
    ok: true,
    warnings: validation.warnings,
    summary: {
      outDir: resolve(outDir),
      ...git,
      hosts,
      users: ruleSet.users.length,
      teams: ruleSet.teams.length,
      rules: ruleSet.rules.length,
      activeRules: ruleSet.rules.filter((r) => r.active).length,
      files: hosts.reduce((n, h) => n + h.files, 0),
      bytes: hosts.reduce((n, h) => n + h.bytes, 0),
    },
  };
}

/** Every file of every host, manifest included, in memory: nothing touches the disk before all rendered. */
export function renderAll(ruleSet: RuleSet, git: GitState): Map<string, GeneratedFile[]> {
  const output = new Map<string, GeneratedFile[]>();
  for (const host of ruleSet.hosts) {
    const policy = resolvePolicy(ruleSet, host.name);
    const files = renderHostFiles({ ruleSet, policy, host });
    const seen = new Set<string>();
    for (const f of files) {
      if (seen.has(f.path)) throw new Error(`two renderers produce ${host.name}/${f.path}`);
      seen.add(f.path);
    }
    output.set(host.name, [...files, renderManifest(buildManifest(host.name, git, files))]);
  }
  return output;
}

export interface GitState {
  commit: string | null;
  dirty: boolean;
}

/** The commit the rules were built from, and whether the rules folder differs from it (untracked files count). */
export async function gitState(rulesDir: string): Promise<GitState> {
  const git = simpleGit(rulesDir);
  let inRepo: boolean;
  try {
    inRepo = await git.checkIsRepo();
  } catch {
    return { commit: null, dirty: false }; // no git installed: nothing to name
  }
  if (!inRepo) return { commit: null, dirty: false };
  let commit: string | null;
  try {
    commit = (await git.revparse(['HEAD'])).trim();
  } catch {
    commit = null; // a repository without commits yet
  }
  let status: string;
  try {
    status = await git.raw(['status', '--porcelain', '--untracked-files=all', '--', '.']);
  } catch (err) {
    // e.g. git's "dubious ownership" refusal: say so rather than name a commit without knowing if it is clean.
    throw new UserError(`cannot read the git status of ${rulesDir}: ${(err as Error).message.trim()}`);
  }
  return { commit, dirty: commit === null || status.trim() !== '' };
}
