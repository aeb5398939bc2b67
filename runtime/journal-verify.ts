import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readDeletionLog } from './deletion-log.ts';
import { readHead, sha256, type Journal } from './journal.ts';

export interface ChainReport {
  ok: boolean;
  /** Journals reachable from the chain head without crossing a deleted journal. */
  length: number;
  /** Journals on disk. */
  journals: number;
  problems: string[];
}

/**
 * Checks the journals' hash chain (tamper evidence). Every journal's `previousHash` must be the SHA-256 of a
 * journal on disk, or of one `mitschnitt expire` deleted (its `journalSha256` in `.mitschnitt/deletions.log`),
 * or null for the very first; no two journals may name the same predecessor; the head
 * (`.mitschnitt/chain-head`) must be a journal on disk. A changed journal breaks its successor's link, a removed
 * one leaves a link to nothing, an inserted one either forks the chain or is named by nobody. Journals named by
 * nobody are only accepted while deletions are logged (their successor may have expired).
 */
export async function verifyChain(spool: string): Promise<ChainReport> {
  const byHash = new Map<string, { path: string; journal: Journal }>();
  for (const path of await journalFiles(spool)) {
    const bytes = await readFile(path);
    try {
      byHash.set(sha256(bytes), { path, journal: JSON.parse(bytes.toString('utf8')) as Journal });
    } catch {
      return { ok: false, length: 0, journals: byHash.size, problems: [`${path} is not valid JSON`] };
    }
  }
  const deleted = (await readDeletionLog(spool)).journalHashes;
  const problems: string[] = [];
  const namedBy = new Map<string, string>();
  let firsts = 0;
  for (const [, { path, journal }] of byHash) {
    const prev = journal.previousHash;
    if (prev === null) {
      firsts++;
      continue;
    }
    if (!byHash.has(prev) && !deleted.has(prev)) problems.push(`${path}: its predecessor (${prev}) was removed or modified`);
    const other = namedBy.get(prev);
    if (other) problems.push(`${path} and ${other} name the same predecessor: the chain forks`);
    namedBy.set(prev, path);
  }
  if (firsts > 1) problems.push(`${firsts} journals claim to be the first of the chain`);
  const head = await readHead(spool);
  if (head && !byHash.has(head.hash) && !deleted.has(head.hash)) problems.push(`chain head ${head.hash} (${head.journal}) is no journal on disk`);
  if (!head && byHash.size > 0) problems.push('journals exist but there is no chain head');
  if (deleted.size === 0) {
    for (const [hash, { path }] of byHash) if (hash !== head?.hash && !namedBy.has(hash)) problems.push(`${path} is named by no later journal`);
  }
  let length = 0;
  for (let h = head?.hash ?? null, guard = 0; h && byHash.has(h) && guard <= byHash.size; guard++) {
    length++;
    h = byHash.get(h)!.journal.previousHash;
  }
  return { ok: problems.length === 0, length, journals: byHash.size, problems };
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
