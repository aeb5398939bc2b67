import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { UserError } from '../bin/cli-support.ts';
import { DEFAULT_MODE, MANIFEST_PATH, fileBytes } from './manifest.ts';
import type { GeneratedFile } from './render-host-files.ts';

/**
 * Replaces `outDir` with a directory holding `<host>/<file>` for every host, all or nothing:
 * the new tree is written in full into a temporary sibling, then swapped in with two renames.
 * Any failure before the swap removes the temporary tree and leaves the previous output as it was.
 */
export function writeOutput(outDir: string, hosts: Map<string, GeneratedFile[]>): void {
  const target = resolve(outDir);
  checkReplaceable(target);
  const parent = dirname(target);
  mkdirSync(parent, { recursive: true });
  const staging = mkdtempSync(join(parent, `.${basename(target)}.new-`));
  try {
    const made = new Set<string>();
    for (const [host, files] of hosts) {
      for (const file of files) writeNewFile(join(staging, host), file, made);
    }
    chmodSync(staging, 0o755);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  swapIn(staging, target);
}

/**
 * out/ is replaced as a whole, so it must be ours: absent, empty, or only host folders with a manifest.
 * This keeps `--out ~` or `--out .` from wiping a folder that happens to be there.
 */
function checkReplaceable(target: string): void {
  if (!existsSync(target)) return;
  if (!lstatSync(target).isDirectory()) throw new UserError(`output ${target} exists and is not a folder; choose another --out`);
  const foreign = readdirSync(target).filter((name) => {
    const path = join(target, name);
    return !lstatSync(path).isDirectory() || !existsSync(join(path, MANIFEST_PATH));
  });
  if (foreign.length > 0) {
    throw new UserError(`refusing to replace ${target}: it holds ${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}, which mitschnitt build did not write; choose another --out or empty it`);
  }
}

function writeNewFile(hostDir: string, file: GeneratedFile, made: Set<string>): void {
  const normal = posix.normalize(file.path);
  // A renderer bug must not write outside its host folder.
  if (normal !== file.path || normal.startsWith('/') || normal.startsWith('../') || normal === '..' || normal === '.') {
    throw new Error(`generated file path '${file.path}' is not a plain relative path`);
  }
  const path = join(hostDir, normal);
  const dir = dirname(path);
  if (!made.has(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    made.add(dir);
  }
  const mode = file.mode ?? DEFAULT_MODE;
  writeFileSync(path, fileBytes(file), { flag: 'wx', mode });
  chmodSync(path, mode); // the umask must not change what the manifest promises
}

function swapIn(staging: string, target: string): void {
  if (!existsSync(target)) {
    renameSync(staging, target);
    return;
  }
  const previous = `${staging}.old`;
  renameSync(target, previous);
  try {
    renameSync(staging, target);
  } catch (err) {
    renameSync(previous, target);
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  rmSync(previous, { recursive: true, force: true });
}
