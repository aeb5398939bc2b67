import { UnsafeValueError, type Escaper } from './host-file-template.ts';

/**
 * Characters with a meaning somewhere in a dialplan line: the config parser (newline, ';'), argument
 * splitting of applications and functions (',' '|' '(' ')' '[' ']' '"' '\', main/app.c
 * __ast_app_separate_args), IF/GotoIf branches ('?' ':'), substitution ('$' '{' '}'), MSet pairs ('=').
 */
const DIALPLAN_SPECIAL = /[\u0000-\u001f\u007f,|()[\];$"\\{}?:=`']/;

/**
 * The mustache escaper of the dialplan template. Values are not escaped but refused: there is no quoting in
 * dialplan that survives every place a value can end up (EVAL_EXTEN re-substitutes a Return's data, MSet strips
 * quotes and backslashes), so the only safe value is one without special characters.
 */
export const dialplanEscape: Escaper = (value) => {
  if (DIALPLAN_SPECIAL.test(value)) throw new UnsafeValueError(`unsafe value for the dialplan: ${JSON.stringify(value)}`);
  return value;
};

/** Checks a value against the shape its slot in the dialplan needs (defence in depth behind the schema). */
export function dialplanToken(value: string, shape: RegExp, what: string): string {
  if (!shape.test(value) || DIALPLAN_SPECIAL.test(value)) {
    throw new UnsafeValueError(`${what} ${JSON.stringify(value)} cannot be written into the dialplan (expected ${shape.source})`);
  }
  return value;
}

export const SHAPES = {
  /** An internal extension (schema: 1-15 digits). '-' would be ignored by Asterisk's extension matching. */
  extension: /^[0-9]{1,15}$/,
  /** A rule/user/team id (schema slug). */
  id: /^[a-z][a-z0-9-]{0,39}$/,
  /** An Asterisk sound name. */
  sound: /^[A-Za-z0-9_][A-Za-z0-9_-]*(\/[A-Za-z0-9_][A-Za-z0-9_-]*)*$/,
  /** The spool directory (schema absolutePath), written without a trailing '/'. */
  absolutePath: /^(\/[A-Za-z0-9_][A-Za-z0-9._-]*)+$/,
} as const;
