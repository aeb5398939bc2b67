/** A mistake in the rule files, located precisely enough for an admin to fix it. */
export interface RuleError {
  /** Path of the file relative to the rules folder, e.g. 'users.json'. */
  file: string;
  /** 1-based line and column of the offending value (of the file's start when there is no better place). */
  line: number;
  column: number;
  /** JSON pointer into the file ('' for the whole document). */
  pointer: string;
  /** What is wrong. */
  message: string;
  /** How to fix it. */
  hint: string;
}

/** For a terminal: control, invisible and direction-changing characters (from keys, values, file names) become \\uXXXX. */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function formatRuleError(e: RuleError, rulesDirLabel = ''): string {
  // file '.' is the rules folder itself (missing or not a folder): no line to point at.
  const where = e.file === '.' ? rulesDirLabel || '.' : `${rulesDirLabel ? `${rulesDirLabel}/` : ''}${e.file}:${e.line}:${e.column}`;
  const pointer = e.pointer ? ` ${e.pointer}` : '';
  return printable(`${where}${pointer}: ${e.message}`) + `\n    fix: ${printable(e.hint)}`;
}

/** Line and column (1-based) of a character offset. */
export function positionOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

export function jsonPointer(path: (string | number)[]): string {
  return path.map((p) => `/${String(p).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}
