/**
 * `$[...]` as main/ast_expr2.y and ast_expr2f.l evaluate it, for the operators mitschnitt's dialplan uses:
 * `|` `&` (lowest), comparisons `=` `==` `!=` `<` `>` `<=` `>=`, `+` `-`, `*` `/` `%`, unary `-` `!`, parentheses.
 * Tokens: "quoted strings" (quotes removed, always string-typed), bare numbers (numeric strings), bare words.
 * A comparison is numeric when neither side is string-typed, else a string comparison (strcoll; modelled as the
 * C locale's byte order). `a & b` gives 0 if either is empty or zero, else a; `a | b` gives b if a is empty or
 * zero, else a. Operators Asterisk has but this dialplan does not use (`:` `=~` `?:` `,`) are errors here.
 */
type Value = { type: 'number'; n: number } | { type: 'numeric_string' | 'string'; s: string };

export class ExpressionError extends Error {}

const OPERATORS = ['==', '!=', '>=', '<=', '=~', '::', '|', '&', '=', '>', '<', '+', '-', '*', '/', '%', '?', '!', ':', '(', ')', ','];
const WORD = /[a-zA-Z0-9.';\\_^#@\u0080-\uffff$]/;

type Token = { op: string } | { value: Value };

function lex(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
      continue;
    }
    if (c === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) throw new ExpressionError(`unterminated string in $[${text}]`);
      tokens.push({ value: { type: 'string', s: text.slice(i + 1, end) } });
      i = end + 1;
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i));
    if (op) {
      tokens.push({ op });
      i += op.length;
      continue;
    }
    let j = i;
    while (j < text.length && WORD.test(text[j]!)) j++;
    if (j === i) throw new ExpressionError(`unexpected character ${JSON.stringify(c)} in $[${text}]`);
    const word = text.slice(i, j);
    tokens.push({ value: { type: /^[0-9]+(\.[0-9]+)?$/.test(word) ? 'numeric_string' : 'string', s: word } });
    i = j;
  }
  return tokens;
}

function toNumber(v: Value): number | undefined {
  if (v.type === 'number') return v.n;
  if (/^[-+]?[0-9]+(\.[0-9]*)?$/.test(v.s.trim())) return Number(v.s);
  return undefined;
}

function isZeroOrNull(v: Value): boolean {
  if (v.type === 'number') return v.n === 0;
  if (v.s === '') return true;
  return toNumber(v) === 0;
}

function asString(v: Value): string {
  return v.type === 'number' ? String(v.n) : v.s;
}

function num(n: number): Value {
  return { type: 'number', n };
}

function compare(op: string, a: Value, b: Value): Value {
  let cmp: number;
  if (a.type === 'string' || b.type === 'string') {
    const x = asString(a);
    const y = asString(b);
    cmp = x < y ? -1 : x > y ? 1 : 0;
  } else {
    const x = toNumber(a);
    const y = toNumber(b);
    if (x === undefined || y === undefined) throw new ExpressionError('non-numeric comparison');
    cmp = x < y ? -1 : x > y ? 1 : 0;
  }
  const result = { '=': cmp === 0, '==': cmp === 0, '!=': cmp !== 0, '<': cmp < 0, '>': cmp > 0, '<=': cmp <= 0, '>=': cmp >= 0 }[op];
  return num(result ? 1 : 0);
}

function arithmetic(op: string, a: Value, b: Value): Value {
  const x = toNumber(a);
  const y = toNumber(b);
  if (x === undefined || y === undefined) throw new ExpressionError(`non-numeric argument to ${op}`);
  if (op === '+') return num(x + y);
  if (op === '-') return num(x - y);
  if (op === '*') return num(x * y);
  if (y === 0) throw new ExpressionError('division by zero');
  return num(op === '/' ? Math.trunc(x / y) : x % y);
}

const LEVELS: { ops: string[]; apply: (op: string, a: Value, b: Value) => Value }[] = [
  { ops: ['|'], apply: (_op, a, b) => (isZeroOrNull(a) ? b : a) },
  { ops: ['&'], apply: (_op, a, b) => (isZeroOrNull(a) || isZeroOrNull(b) ? num(0) : a) },
  { ops: ['=', '==', '!=', '<', '>', '<=', '>='], apply: compare },
  { ops: ['+', '-'], apply: arithmetic },
  { ops: ['*', '/', '%'], apply: arithmetic },
];

/** Precedence climbing over LEVELS (lowest first), then unary operators and parentheses. */
class Parser {
  pos = 0;
  constructor(
    readonly tokens: Token[],
    readonly text: string,
  ) {}

  peek(): string | undefined {
    const t = this.tokens[this.pos];
    return t && 'op' in t ? t.op : undefined;
  }

  unsupported(op: string): never {
    throw new ExpressionError(`operator ${op} is not modelled (not used by mitschnitt) in $[${this.text}]`);
  }

  level(n: number): Value {
    if (n === LEVELS.length) return this.primary();
    const { ops, apply } = LEVELS[n]!;
    let left = this.level(n + 1);
    for (let op = this.peek(); op !== undefined && ops.includes(op); op = this.peek()) {
      this.pos++;
      left = apply(op, left, this.level(n + 1));
    }
    return left;
  }

  primary(): Value {
    const t = this.tokens[this.pos++];
    if (!t) throw new ExpressionError(`syntax error: unexpected end of $[${this.text}]`);
    if ('value' in t) return t.value;
    if (t.op === '(') {
      const v = this.level(0);
      if (this.peek() !== ')') throw new ExpressionError(`syntax error: missing ) in $[${this.text}]`);
      this.pos++;
      return v;
    }
    if (t.op === '-') {
      const v = toNumber(this.primary());
      if (v === undefined) throw new ExpressionError('non-numeric argument to unary -');
      return num(-v);
    }
    if (t.op === '!') return num(isZeroOrNull(this.primary()) ? 1 : 0);
    return this.unsupported(t.op);
  }
}

export function evaluateExpression(text: string): string {
  const tokens = lex(text);
  if (tokens.length === 0) return '';
  const parser = new Parser(tokens, text);
  const result = parser.level(0);
  if (parser.pos < tokens.length) {
    const t = tokens[parser.pos]!;
    if ('op' in t && [':', '=~', '?', '::', ','].includes(t.op)) parser.unsupported(t.op);
    throw new ExpressionError(`syntax error in $[${text}]`);
  }
  return asString(result);
}
