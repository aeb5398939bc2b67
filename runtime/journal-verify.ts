import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readHead, sha256, type Journal } from './journal.ts';

export interface ChainReport {
  ok: boolean;
  /** Journals reachable from the chain head. */
  length: number;
  problems: string[];
}

/**
 * Checks the journals' hash chain: starting at `.mitschnitt/chain-head`, every journal's bytes must hash to what
 * its successor names as `previousHash`, back to the first (null). Journals on disk that the chain does not reach
 * were inserted or re-written; a missing link means a journal was removed or changed. Expired recordings
 * (deleted by `mitschnitt expire`) end the walk at a link that is gone: pass their hashes as `deleted`.
 */
export async function verifyChain(spool: string, deleted: ReadonlySet<string> = new Set()): Promise<ChainReport> {
  const byHash = new Map<string, { path: string; journal: Journal }>();
  for (const path of await journalFiles(spool)) {
    const bytes = await readFile(path);
    byHash.set(sha256(bytes), { path, journal: JSON.parse(bytes.toString('utf8')) as Journal });
  }
  const problems: string[] = [];
  const head = await readHead(spool);
  const reached = new Set<string>();
  let hash = head?.hash ?? null;
  while (hash) {
    const entry = byHash.get(hash);
    if (!entry) {
      if (!deleted.has(hash)) problems.push(`chain broken: no journal has hash ${hash} (removed or modified)`);
      break;
    }
    if (reached.has(hash)) {
      problems.push(`chain loops at ${entry.path}`);
      break;
    }
    reached.add(hash);
    hash = entry.journal.previousHash;
  }
  for (const [h, { path }] of byHash) if (!reached.has(h)) problems.push(`journal not in the chain: ${path}`);
  return { ok: problems.length === 0, length: reached.size, problems };
}

async function journalFiles(spool: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (depth < 3 && e.isDirectory() && /^[0-9]+$/.test(e.name)) await walk(join(dir, e.name), depth + 1);
      else if (depth === 3 && e.isFile() && /^[0-9]+\.[0-9]+-[0-9]+\.json$/.test(e.name)) out.push(join(dir, e.name));
    }
  };
  await walk(spool, 0);
  return out;
}
