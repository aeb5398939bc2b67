import { simpleGit } from 'simple-git';

export interface GitCheck {
  commit: string | null;
  /** Why a deploy from this tree would not be traceable to a pushed commit (empty: fine). */
  problems: string[];
}

/**
 * A deploy must be reproducible from the repository: no uncommitted or untracked files in the working tree, and HEAD
 * contained in a remote branch (its upstream or, in CI's detached checkouts, any remote-tracking branch).
 */
export async function checkGitState(rulesDir: string): Promise<GitCheck> {
  const git = simpleGit(rulesDir);
  let inRepo = false;
  try {
    inRepo = await git.checkIsRepo();
  } catch {
    // git missing or folder unreadable: reported below like a folder outside any repository
  }
  if (!inRepo) return { commit: null, problems: [`${rulesDir} is not in a git repository, so no commit can be recorded on the hosts`] };
  let commit: string;
  try {
    commit = (await git.revparse(['HEAD'])).trim();
  } catch {
    return { commit: null, problems: ['the repository has no commit yet'] };
  }
  const problems: string[] = [];
  const status = await git.raw(['status', '--porcelain', '--untracked-files=all']);
  const dirty = status.split('\n').filter(Boolean);
  if (dirty.length) {
    const names = dirty.slice(0, 5).map((l) => l.slice(3)).join(', ');
    problems.push(`the working tree has ${dirty.length} uncommitted change${dirty.length === 1 ? '' : 's'} (${names}${dirty.length > 5 ? ', …' : ''}): commit them first`);
  }
  const remoteBranches = (await git.raw(['branch', '-r', '--contains', 'HEAD'])).split('\n').map((l) => l.trim()).filter(Boolean);
  if (remoteBranches.length === 0) problems.push(`commit ${commit.slice(0, 12)} is not on any remote branch: push it first`);
  return { commit, problems };
}
