import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MANIFEST_PATH, type Manifest, type ManifestEntry } from '../generator/manifest.ts';

// The manifest format is the build's (generator/manifest.ts); this side re-checks what it reads from disk or a host.
export type { Manifest, ManifestEntry };
export const MANIFEST = MANIFEST_PATH;

/**
 * Paths are used in remote shell commands, sha256sum input and SFTP: only plain relative paths of safe characters,
 * no segment starting with '.', so neither '..' nor hidden files nor newlines can get in.
 */
const SAFE_PATH = /^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/;

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Parses and checks a manifest (local or read from a host); `source` names it in errors. */
export function parseManifest(bytes: Buffer, source: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new Error(`${source}: not valid JSON (${(err as Error).message})`);
  }
  const m = value as Partial<Manifest> | null;
  if (!m || typeof m !== 'object' || typeof m.host !== 'string' || typeof m.files !== 'object' || m.files === null) {
    throw new Error(`${source}: not a mitschnitt manifest (needs host and files)`);
  }
  if (m.commit !== null && (typeof m.commit !== 'string' || !/^[0-9a-f]{7,64}$/.test(m.commit))) {
    throw new Error(`${source}: commit must be a hex commit id or null`);
  }
  for (const [path, entry] of Object.entries(m.files)) {
    if (!SAFE_PATH.test(path) || path === MANIFEST) throw new Error(`${source}: unsafe or reserved file path '${path}'`);
    if (!entry || !/^[0-9a-f]{64}$/.test(entry.sha256) || !Number.isInteger(entry.size) || !/^0[0-7]{3}$/.test(entry.mode)) {
      throw new Error(`${source}: bad entry for '${path}' (needs sha256, size, mode like "0644")`);
    }
  }
  return { host: m.host, commit: m.commit ?? null, dirty: m.dirty === true, files: m.files };
}

/** A built release for one host: out/<host>/ with its manifest, checked against the bytes on disk. */
export interface LocalRelease {
  host: string;
  dir: string;
  manifest: Manifest;
  manifestBytes: Buffer;
  /** Names the release on the host: the first 16 hex digits of the manifest's SHA-256. */
  id: string;
  read(path: string): Buffer;
}

export function releaseId(manifestBytes: Buffer): string {
  return sha256Hex(manifestBytes).slice(0, 16);
}

export function readLocalRelease(outDir: string, host: string): LocalRelease {
  const dir = join(outDir, host);
  let manifestBytes: Buffer;
  try {
    manifestBytes = readFileSync(join(dir, MANIFEST));
  } catch {
    throw new Error(`${dir}/${MANIFEST} is missing: run mitschnitt build first`);
  }
  const manifest = parseManifest(manifestBytes, join(dir, MANIFEST));
  if (manifest.host !== host) throw new Error(`${dir}/${MANIFEST} belongs to host '${manifest.host}', not '${host}'`);
  const cache = new Map<string, Buffer>();
  const read = (path: string): Buffer => {
    let bytes = cache.get(path);
    if (!bytes) {
      const entry = manifest.files[path];
      if (!entry) throw new Error(`${path} is not part of the release for ${host}`);
      bytes = readFileSync(join(dir, path));
      // A hand-edited out/ must never reach a host: what we deploy is exactly what the manifest names.
      if (sha256Hex(bytes) !== entry.sha256) throw new Error(`${dir}/${path} does not match its manifest hash: run mitschnitt build again`);
      cache.set(path, bytes);
    }
    return bytes;
  };
  for (const path of Object.keys(manifest.files)) read(path);
  return { host, dir, manifest, manifestBytes, id: releaseId(manifestBytes), read };
}
