import { copyFile, mkdir, readdir, readFile, realpath, rmdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { UserError } from '../bin/cli-support.ts';
import { hashFile } from './integrity-verify.ts';
import { readDeletionLog } from './deletion-log.ts';
import { readHead } from './journal.ts';
import { dayFolders, JOURNAL_NAME } from './spool-catalog.ts';
import type { SubjectMatch } from './subject-request.ts';
import { THIRD_PARTY_PROCEDURE } from './verify-report.ts';

/**
 * Writes an export for the person (Art. 15) or a court: `recordings/` with each audio file and its journal byte
 * for byte, `SHA256SUMS` (audio hashes as the journals recorded them, journal hashes as they are), `CHAIN.txt`
 * (which later journal on the PBX names each exported journal's hash), `VERIFY.txt` (how to re-check with
 * sha256sum, and what the check at export time found). The report is written by the caller, after any erasure.
 */
export interface ExportedRecording {
  id: string;
  audio: string | null;
  /** The copy's SHA-256 equals the journal's `sha256` (the file is as it was recorded). */
  audioMatchesJournal: boolean | null;
  journalSha256: string;
  /** Which later journal names this journal's hash as its predecessor, or what else vouches for it. */
  chain: string;
}

/** The folder must be new or empty, and outside the spool (an export inside it would look like tampering). */
export async function prepareExportDir(dir: string, spool: string): Promise<string> {
  const abs = resolve(dir);
  // Compared through symlinks too: a link into the spool is inside it.
  const real = await realpath(abs).catch(async () => join(await realpath(dirname(abs)).catch(() => dirname(abs)), basename(abs)));
  const realSpool = await realpath(spool).catch(() => resolve(spool));
  for (const [a, b] of [[abs, resolve(spool)], [real, realSpool]]) {
    const rel = relative(b!, a!);
    if (rel === '' || (!rel.startsWith('..') && !rel.startsWith('/'))) throw new UserError(`--export ${dir} lies inside the spool; choose a folder elsewhere`);
  }
  const info = await stat(abs).catch(() => null);
  if (info && !info.isDirectory()) throw new UserError(`--export ${dir} exists and is not a folder`);
  if (info && (await readdir(abs)).length > 0) throw new UserError(`--export ${dir} is not empty; give a new or empty folder`);
  try {
    await mkdir(join(abs, 'recordings'), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new UserError(`cannot create --export ${dir}: ${(err as Error).message}`);
  }
  return abs;
}

/** For each hash: the id of the journal naming it as predecessor; plus the head and the hashes of deleted journals. */
async function chainIndex(spool: string): Promise<{ namedBy: Map<string, string>; head: string | null; deleted: Set<string> }> {
  const namedBy = new Map<string, string>();
  for (const day of await dayFolders(spool)) {
    for (const name of await readdir(day.path).catch(() => [] as string[])) {
      if (!JOURNAL_NAME.test(name)) continue;
      try {
        const j = JSON.parse(await readFile(join(day.path, name), 'utf8')) as { id?: string; previousHash?: string | null };
        if (typeof j.previousHash === 'string') namedBy.set(j.previousHash, `${day.rel}/${name}`);
      } catch {
        // verify reports unreadable journals; here they simply name nothing.
      }
    }
  }
  return { namedBy, head: (await readHead(spool))?.hash ?? null, deleted: (await readDeletionLog(spool)).journalHashes };
}

export async function exportRecordings(dir: string, spool: string, matches: SubjectMatch[]): Promise<ExportedRecording[]> {
  const chain = await chainIndex(spool);
  const out: ExportedRecording[] = [];
  const sums: string[] = [];
  const chainLines: string[] = [];
  for (const m of matches) {
    const journalName = `${m.id}.json`;
    await writeFile(join(dir, 'recordings', journalName), m.journalBytes, { mode: 0o600 });
    sums.push(`${m.journalSha256}  recordings/${journalName}`);
    let audioMatches: boolean | null = null;
    if (m.audioPath) {
      const name = m.audioPath.slice(m.audioPath.lastIndexOf('/') + 1);
      const target = join(dir, 'recordings', name);
      await copyFile(m.audioPath, target);
      const { hash } = await hashFile(target);
      audioMatches = hash === m.journal.sha256;
      // The journal's hash, not the copy's: sha256sum -c then fails for a file altered since the call.
      sums.push(`${String(m.journal.sha256)}  recordings/${name}`);
    }
    const successor = chain.namedBy.get(m.journalSha256);
    const link = successor
      ? `named as previousHash by the later journal ${successor}`
      : chain.head === m.journalSha256
        ? 'the newest journal of the PBX (chain head)'
        : 'no later journal on the PBX names it (the later one was deleted, or this journal was altered)';
    chainLines.push(`${m.journalSha256}  ${m.id}.json\n    previousHash ${m.journal.previousHash ?? 'null (first journal)'}\n    ${link}`);
    out.push({ id: m.id, audio: m.audioPath ? m.audioPath.slice(m.audioPath.lastIndexOf('/') + 1) : null, audioMatchesJournal: audioMatches, journalSha256: m.journalSha256, chain: link });
  }
  await writeFile(join(dir, 'SHA256SUMS'), sums.length ? `${sums.join('\n')}\n` : '', { mode: 0o600 });
  await writeFile(join(dir, 'CHAIN.txt'), `SHA-256 of each exported journal and its place in the hash chain of the PBX\n\n${chainLines.join('\n')}\n`, { mode: 0o600 });
  const checks = out.map((e) => `  ${e.id}: ${e.audio === null ? 'Audiodatei fehlt / audio missing' : e.audioMatchesJournal ? 'Audio = Journal (SHA-256) OK' : 'Audio ≠ Journal: VERÄNDERT / ALTERED'}; ${e.chain}`);
  const verify = `${THIRD_PARTY_PROCEDURE}\nPrüfung beim Export / check at export time (${new Date().toISOString()}):\n${checks.join('\n') || '  (keine Aufnahmen / no recordings)'}\n`;
  await writeFile(join(dir, 'VERIFY.txt'), verify, { mode: 0o600 });
  if (matches.length === 0) await rmdir(join(dir, 'recordings')).catch(() => {});
  return out;
}
