import { createHash } from 'node:crypto';
import { renderTemplate, UnsafeValueError } from './host-file-template.ts';
import { dialplanEscape, dialplanToken, SHAPES } from './dialplan-escape.ts';
import { deployedConfigDir } from './render-cron.ts';
import type { Cell, Policy } from './policy.ts';
import type { GeneratedFile, RenderInput } from './render-host-files.ts';

export const DIALPLAN_PATH = 'asterisk/extensions_mitschnitt.conf';

/** The version line's place in the file; the hex is filled in once the rest of the file is known. */
const VERSION_LINE = /^exten => version,1,NoOp\(mitschnitt ([0-9a-f]{16})\)\n/m;
const VERSION_PLACEHOLDER = '0000000000000000';

/** asterisk/extensions_mitschnitt.conf: the routine mitschnitt-check and its two lookup tables. */
export function renderDialplan({ policy, host }: RenderInput): GeneratedFile[] {
  return [{ path: DIALPLAN_PATH, content: dialplanText(policy, deployedConfigDir(host.dir)) }];
}

/**
 * The dialplan of one host's policy. Deterministic: numbers and rules come sorted from the policy, rules are
 * numbered in that order, and nothing depends on the clock or the machine.
 */
export function dialplanText(policy: Policy, configDir = '/etc/mitschnitt/current'): string {
  const { settings } = policy;
  const ruleIds = Object.keys(policy.rules).sort();
  // Cells name rules by number: an id could not be an extension name, since Asterisk ignores '-' in extensions.
  const ruleIndex = new Map(ruleIds.map((id, i) => [id, i + 1]));
  const cell = (c: Cell, side: 'o' | 'i', where: string): string => {
    if (c.decision === 'none') return `0${side}`;
    const index = c.rule === undefined ? undefined : ruleIndex.get(c.rule);
    if (index === undefined) throw new UnsafeValueError(`${where}: cell names rule ${JSON.stringify(c.rule)}, which is not an active rule of the policy`);
    return `${c.decision === 'auto' ? 2 : 1}${side}${index}`;
  };

  const numbers = Object.keys(policy.numbers)
    .sort()
    .map((ext) => {
      const n = policy.numbers[ext]!;
      const where = `number ${ext}`;
      const cells = [n.outbound.internal, n.outbound.external, n.inbound.internal, n.inbound.external];
      const code = ['k', cell(cells[0]!, 'o', where), cell(cells[1]!, 'o', where), cell(cells[2]!, 'i', where), cell(cells[3]!, 'i', where)].join('.');
      return {
        ext: dialplanToken(ext, SHAPES.extension, 'extension'),
        code,
        kind: n.kind,
        id: dialplanToken(n.id, SHAPES.id, `id of ${where}`),
        ruleIds: [...new Set(cells.flatMap((c) => (c.rule === undefined ? [] : [c.rule])))],
      };
    });

  const rules = ruleIds.map((id) => {
    const rule = policy.rules[id]!;
    if (rule.beep !== undefined && !(Number.isInteger(rule.beep) && rule.beep >= 1 && rule.beep <= 3600)) {
      throw new UnsafeValueError(`rule ${id}: beep ${JSON.stringify(rule.beep)} is not a whole number of seconds`);
    }
    return {
      index: ruleIndex.get(id),
      id: dialplanToken(id, SHAPES.id, 'rule id'),
      beep: rule.beep === undefined ? undefined : String(rule.beep),
      announcement: rule.announcement === undefined ? '' : dialplanToken(rule.announcement, SHAPES.sound, `announcement of rule ${id}`),
    };
  });

  const view = {
    host: dialplanToken(policy.host, SHAPES.id, 'host name'),
    configDir: dialplanToken(configDir.replace(/\/+$/, ''), SHAPES.absolutePath, 'deployed directory'),
    version: VERSION_PLACEHOLDER,
    spool: dialplanToken(settings.spool.replace(/\/+$/, ''), SHAPES.absolutePath, 'spool directory'),
    ext: fileExtension(settings.format),
    numbers,
    rules,
  };
  const draft = renderTemplate('extensions_mitschnitt.conf', view, dialplanEscape);
  return draft.replace(VERSION_LINE, `exten => version,1,NoOp(mitschnitt ${dialplanVersion(draft)})\n`);
}

/**
 * The hex of the version line: the first 16 characters of the SHA-256 of the file without that line
 * (the line and its newline removed). Deploy compares it with `dialplan show version@mitschnitt-check`.
 */
export function dialplanVersion(content: string): string {
  if (!VERSION_LINE.test(content)) throw new Error('not a mitschnitt dialplan: no version line in [mitschnitt-check]');
  return createHash('sha256').update(content.replace(VERSION_LINE, '')).digest('hex').slice(0, 16);
}

/** The hex written in a dialplan's version line. */
export function versionInFile(content: string): string | undefined {
  return VERSION_LINE.exec(content)?.[1];
}

/** Contract: `.wav` for format wav, `.WAV` for wav49 (Asterisk's GSM-in-WAV format registers that extension). */
function fileExtension(format: string): string {
  if (format === 'wav') return 'wav';
  if (format === 'wav49') return 'WAV';
  throw new UnsafeValueError(`audio format ${JSON.stringify(format)} is neither wav nor wav49`);
}
