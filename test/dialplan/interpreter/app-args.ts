/**
 * main/app.c __ast_app_separate_args: splits at `delim` outside parentheses, square brackets and double
 * quotes. With `removeChars` (AST_STANDARD_APP_ARGS / AST_NONSTANDARD_APP_ARGS) quotes are dropped and a
 * backslash is dropped while the character after it is taken literally; without it (the *_RAW_ARGS forms)
 * both stay. At most `max` pieces: the last one keeps the rest of the string unsplit. A delimiter at the very
 * end yields one more, empty, argument.
 */
export function separateArgs(buf: string, delim: string, removeChars: boolean, max: number): string[] {
  const out: string[] = [];
  let paren = 0;
  let bracket = 0;
  let quote = false;
  let i = 0;
  let endedOnDelim = false;
  while (i < buf.length && out.length < max - 1) {
    let arg = '';
    endedOnDelim = false;
    for (; i < buf.length; i++) {
      const c = buf[i]!;
      if (c === '(') paren++;
      else if (c === ')') {
        if (paren) paren--;
      } else if (c === '[') bracket++;
      else if (c === ']') {
        if (bracket) bracket--;
      } else if (c === '"' && delim !== '"') {
        quote = !quote;
        if (removeChars) continue;
      } else if (c === '\\') {
        if (removeChars) {
          // The backslash goes; the next character is copied without being looked at.
          i++;
          if (i < buf.length) arg += buf[i];
          continue;
        }
        arg += c;
        i++;
        if (i < buf.length) arg += buf[i];
        continue;
      } else if (c === delim && !paren && !quote && !bracket) {
        i++;
        endedOnDelim = true;
        break;
      }
      arg += c;
    }
    out.push(arg);
  }
  // The loop never scans the rest: it keeps its quotes and backslashes even with removeChars.
  if (i < buf.length) out.push(buf.slice(i));
  else if (endedOnDelim) out.push('');
  return out;
}
