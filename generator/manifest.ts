import { createHash } from 'node:crypto';
import type { GeneratedFile } from './render-host-files.ts';
import { stableJson } from './render-policy-file.ts';

export interface ManifestEntry {
  sha256: string;
  size: number;
  /** Octal file mode as a string, e.g. "0644" or "0755". */
  mode: string;
}

/** out/<host>/manifest.json: every other file of the host with its hash, size and mode. Lists not itself. */
export interface Manifest {
  host: string;
  /** The commit of the rules' git repository, null when the rules are not in one. */
  commit: string | null;
  /** Whether the rules folder had uncommitted changes (tracked or untracked) at build time. */
  dirty: boolean;
  files: Record<string, ManifestEntry>;
}

export const MANIFEST_PATH = 'manifest.json';
export const DEFAULT_MODE = 0o644;

export function fileBytes(file: GeneratedFile): Buffer {
  return typeof file.content === 'string' ? Buffer.from(file.content, 'utf8') : file.content;
}

export function formatMode(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

export function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function buildManifest(host: string, git: { commit: string | null; dirty: boolean }, files: GeneratedFile[]): Manifest {
  const entries: Record<string, ManifestEntry> = {};
  for (const file of files) {
    const bytes = fileBytes(file);
    entries[file.path] = { sha256: sha256(bytes), size: bytes.length, mode: formatMode(file.mode ?? DEFAULT_MODE) };
  }
  return { host, commit: git.commit, dirty: git.dirty, files: entries };
}

export function renderManifest(manifest: Manifest): GeneratedFile {
  return { path: MANIFEST_PATH, content: stableJson(manifest) };
}
