import { closeSync, lstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import type { Report } from './report.ts';
import type { RuleSet } from './rule-set.ts';

const FIX_PLACE = "Put the script into the rules folder's scripts/ directory (a regular file, committed to git) and name it as 'scripts/<file>'.";
const FIX_EXEC = "Start the script with the line '#!/usr/bin/env bash' and save it with Unix (LF) line endings.";

type Problem = { message: string; hint: string } | undefined;
const place = (message: string): Problem => ({ message, hint: FIX_PLACE });

/**
 * Delivery scripts are copied to the PBX and run there as `script AUDIO JOURNAL` (installed 0755, so the
 * executable bit in git does not matter). They must be real files inside scripts/: a symlink could smuggle
 * any file of the machine that runs `build` onto the PBX and execute it as root.
 */
export function checkScripts(set: RuleSet, report: Report): void {
  const checked = new Map<string, Problem>();
  set.rules.forEach((rule, i) => {
    const script = rule.deliver?.script;
    if (script === undefined) return;
    if (!checked.has(script)) checked.set(script, scriptProblem(set.dir, script));
    const problem = checked.get(script);
    if (problem) report.error({ file: 'rules.json', path: ['rules', i, 'deliver', 'script'] }, `script ${script} ${problem.message}`, problem.hint);
  });
}

function scriptProblem(dir: string, script: string): Problem {
  const path = join(dir, script);
  try {
    lstatSync(path);
  } catch {
    return place('does not exist');
  }
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return place('is a symbolic link to nothing');
  }
  const scriptsDir = join(realpathSync(dir), 'scripts') + sep;
  if (!real.startsWith(scriptsDir)) return place(`resolves to ${real}, outside the rules folder's scripts/`);
  const stat = statSync(real);
  if (!stat.isFile()) return place('is not a regular file');
  if (stat.size === 0) return place('is empty');
  let head: string;
  try {
    const fd = openSync(real, 'r');
    try {
      const buf = Buffer.alloc(256);
      head = buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('latin1');
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    return { message: `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, hint: 'Make the file readable for the user running mitschnitt (e.g. chmod 0644).' };
  }
  // The kernel runs the file through its '#!' line; without one (or with a CR in it) every delivery fails.
  if (!head.startsWith('#!')) return { message: "does not start with a '#!' line (e.g. '#!/usr/bin/env bash'), so it cannot be executed", hint: FIX_EXEC };
  const firstLine = head.split('\n', 1)[0]!;
  if (firstLine.endsWith('\r')) return { message: "has Windows line endings: its '#!' line ends in a carriage return, so it cannot be executed", hint: FIX_EXEC };
  return undefined;
}
