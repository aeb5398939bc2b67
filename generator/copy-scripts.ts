import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../bin/cli-support.ts';
import type { GeneratedFile, RenderInput } from './render-host-files.ts';
import { compare } from './resolve-policy.ts';

/**
 * The delivery scripts that the host's active rules name, copied to scripts/<name> with mode 0755.
 * The schema restricts the path to scripts/<plain name>, so it cannot leave the rules folder.
 */
export function copyScripts({ policy, ruleSet }: RenderInput): GeneratedFile[] {
  const used = new Set(Object.values(policy.rules).flatMap((r) => (r.deliver.script ? [r.deliver.script] : [])));
  return [...used].sort(compare).map((script) => {
    const source = join(ruleSet.dir, script);
    if (!existsSync(source) || !statSync(source).isFile()) {
      const rules = Object.values(policy.rules).filter((r) => r.deliver.script === script).map((r) => r.id);
      throw new UserError(`rule ${rules.join(', ')} delivers to ${script}, but ${source} is not a file; add the script or fix the rule`);
    }
    return { path: script, content: readFileSync(source), mode: 0o755 };
  });
}
