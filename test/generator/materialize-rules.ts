// Builds a rules folder for a test: the bundled example with a few files or values replaced.
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BUNDLED_RULES } from '../../bin/cli-support.ts';

/** A change to the bundled rules; `file#/json/pointer` addresses a value ('-' appends to an array). */
export interface RulesDelta {
  /** Whole files: a string is written as it is (syntax errors), null deletes the file, anything else is written as JSON. */
  files?: Record<string, unknown>;
  set?: Record<string, unknown>;
  remove?: string[];
  /** Extra entries under the rules folder: file content (optionally with an octal mode), a symlink, or a directory. */
  paths?: Record<string, { content?: string; mode?: string; symlink?: string; dir?: true }>;
}

export function materializeRules(delta: RulesDelta): { dir: string; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), 'mitschnitt-rules-'));
  const dir = join(root, 'rules');
  cpSync(BUNDLED_RULES, dir, { recursive: true });
  const parsed = new Map<string, unknown>();
  const data = (file: string) => {
    if (!parsed.has(file)) parsed.set(file, JSON.parse(readFileSync(join(dir, file), 'utf8')));
    return parsed.get(file);
  };
  for (const [address, value] of Object.entries(delta.set ?? {})) edit(data, address, value);
  for (const address of delta.remove ?? []) edit(data, address, undefined);
  for (const [file, value] of parsed) writeFileSync(join(dir, file), `${JSON.stringify(value, null, 2)}\n`);
  for (const [file, content] of Object.entries(delta.files ?? {})) {
    const path = join(dir, file);
    if (content === null) rmSync(path, { force: true });
    else writeFileSync(path, typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`);
  }
  for (const [rel, entry] of Object.entries(delta.paths ?? {})) {
    const path = join(dir, rel);
    mkdirSync(dirname(path), { recursive: true });
    rmSync(path, { force: true, recursive: true });
    if (entry.dir) mkdirSync(path);
    else if (entry.symlink !== undefined) symlinkSync(entry.symlink, path);
    else {
      writeFileSync(path, entry.content ?? '');
      if (entry.mode) chmodSync(path, parseInt(entry.mode, 8));
    }
  }
  return { dir, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** Sets (or with undefined removes) the value at `file#/pointer`. */
function edit(data: (file: string) => unknown, address: string, value: unknown): void {
  const [file, pointer = ''] = address.split('#');
  const keys = pointer.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (keys.length === 0) throw new Error(`${address}: edit a value inside the file, or replace it with "files"`);
  let node = data(file!) as Record<string, unknown> | unknown[];
  for (const key of keys.slice(0, -1)) {
    node = (node as Record<string, unknown>)[key] as Record<string, unknown>;
    if (node === null || typeof node !== 'object') throw new Error(`${address}: no object at "${key}"`);
  }
  const last = keys[keys.length - 1]!;
  if (Array.isArray(node)) {
    if (value === undefined) node.splice(Number(last), 1);
    else if (last === '-') node.push(value);
    else node[Number(last)] = value;
  } else if (value === undefined) {
    delete node[last];
  } else {
    Object.defineProperty(node, last, { value, enumerable: true, writable: true, configurable: true });
  }
}
