import { readFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';
import { RULE_FILES } from './rule-file-types.ts';
import { positionOf, printable, type RuleError } from './rule-error.ts';

/** One rule file as read from disk: its text (for error positions), syntax tree and value. */
export interface LoadedFile {
  file: string;
  text: string;
  tree: Node | undefined;
  data: unknown;
}

export interface LoadedRules {
  dir: string;
  files: Map<string, LoadedFile>;
  errors: RuleError[];
}

/** Rule files nest about five levels; the parsers recurse, so absurd nesting must be stopped before them. */
const MAX_DEPTH = 32;

const FIX_SYNTAX = 'Rule files are plain JSON: double-quoted keys and strings, no comments, no trailing commas.';

/** Reads and parses every rule file of a rules folder; missing required files and JSON syntax errors become RuleErrors. */
export function loadRuleFiles(dir: string): LoadedRules {
  const files = new Map<string, LoadedFile>();
  const errors: RuleError[] = [];
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    errors.push({ file: '.', line: 1, column: 1, pointer: '', message: `rules folder '${dir}' ${existsSync(dir) ? 'is not a folder' : 'does not exist'}`, hint: 'Pass --rules DIR pointing at a folder with users.json, roles.json, rules.json and hosts.json.' });
    return { dir, files, errors };
  }
  for (const { file, optional } of RULE_FILES) {
    const path = join(dir, file);
    if (!existsSync(path)) {
      if (!optional) {
        errors.push({ file, line: 1, column: 1, pointer: '', message: `required file ${file} is missing`, hint: `Create ${file}; see the bundled example rules/${file}.` });
      }
      continue;
    }
    const text = readText(path);
    if (typeof text !== 'string') {
      errors.push({ file, line: 1, column: 1, pointer: '', message: `${file} cannot be read: ${text.problem}`, hint: `${file} must be a readable UTF-8 text file.` });
      continue;
    }
    const deep = nestingBeyond(text, MAX_DEPTH);
    if (deep !== undefined) {
      errors.push({ file, ...positionOf(text, deep), pointer: '', message: `nested deeper than ${MAX_DEPTH} levels`, hint: 'Rule files need only a few levels of objects and arrays; look for a runaway bracket.' });
      continue;
    }
    const syntax: ParseError[] = [];
    const tree = parseTree(text, syntax, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
    if (syntax.length > 0) {
      // Only the first: after one syntax error the parser's further complaints are mostly echoes of it.
      const err = syntax[0]!;
      errors.push({ file, ...positionOf(text, syntaxErrorOffset(text, err)), pointer: '', message: `JSON syntax error: ${describeSyntaxError(printParseErrorCode(err.error))}`, hint: FIX_SYNTAX });
      continue;
    }
    const duplicate = (key: Node) =>
      errors.push({ file, ...positionOf(text, key.offset), pointer: '', message: `duplicate key ${printable(JSON.stringify(key.value))}`, hint: 'Each key may appear once per object; remove or merge the repeated one.' });
    files.set(file, { file, text, tree, data: tree ? nodeValue(tree, duplicate) : undefined });
  }
  return { dir, files, errors };
}

/** The file's text, or why it cannot be used; a leading BOM (some Windows editors write one) becomes a space so offsets stay. */
function readText(path: string): string | { problem: string } {
  try {
    if (!statSync(path).isFile()) return { problem: 'it is not a regular file' };
    const text = new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(path));
    return text.startsWith('\uFEFF') ? ` ${text.slice(1)}` : text;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { problem: code === undefined || code === 'ERR_ENCODING_INVALID_ENCODED_DATA' ? 'it is not valid UTF-8' : code };
  }
}

/** Offset of the first bracket that opens level `limit + 1` (outside strings), if any. */
function nestingBeyond(text: string, limit: number): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      if (++depth > limit) return i;
    } else if (c === '}' || c === ']') depth--;
  }
  return undefined;
}

/** jsonc-parser places a bad character in a string at the string's start; point at the character itself. */
function syntaxErrorOffset(text: string, err: ParseError): number {
  if (printParseErrorCode(err.error) !== 'InvalidCharacter') return err.offset;
  const token = text.slice(err.offset, err.offset + err.length);
  const at = token.search(/[\u0000-\u001f]/);
  return at >= 0 ? err.offset + at : err.offset;
}

function describeSyntaxError(code: string): string {
  const words: Record<string, string> = {
    InvalidSymbol: 'unexpected character',
    InvalidNumberFormat: 'malformed number',
    PropertyNameExpected: 'expected a property name in double quotes',
    ValueExpected: 'expected a value',
    ColonExpected: "expected ':'",
    CommaExpected: "expected ','",
    CloseBraceExpected: "expected '}'",
    CloseBracketExpected: "expected ']'",
    EndOfFileExpected: 'unexpected content after the end of the document',
    InvalidCommentToken: 'comments are not allowed',
    UnexpectedEndOfComment: 'comments are not allowed',
    UnexpectedEndOfString: 'unterminated string',
    UnexpectedEndOfNumber: 'malformed number',
    InvalidUnicode: 'invalid \\u escape',
    InvalidEscapeCharacter: 'invalid escape character',
    InvalidCharacter: 'invalid character in string (control characters must be escaped)',
  };
  return words[code] ?? code;
}

/** Like jsonc-parser's getNodeValue, but a repeated key is reported instead of silently overwriting the first. */
function nodeValue(node: Node, duplicate: (key: Node) => void): unknown {
  switch (node.type) {
    case 'object': {
      const obj: Record<string, unknown> = {};
      for (const prop of node.children ?? []) {
        const [key, value] = prop.children ?? [];
        if (!key || !value) continue;
        if (Object.prototype.hasOwnProperty.call(obj, key.value as string)) duplicate(key);
        // defineProperty, not assignment: a key "__proto__" must stay an (unknown, reported) property, not swap the prototype.
        Object.defineProperty(obj, key.value as string, { value: nodeValue(value, duplicate), enumerable: true, writable: true, configurable: true });
      }
      return obj;
    }
    case 'array':
      return (node.children ?? []).map((child) => nodeValue(child, duplicate));
    default:
      return node.value;
  }
}
