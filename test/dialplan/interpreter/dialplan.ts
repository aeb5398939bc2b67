/**
 * The extensions.conf subset mitschnitt generates (plus a little admin dialplan for tests), parsed as
 * pbx/pbx_config.c does: `[context]`, `exten => name,priority,App(data)`, `same => …`, priorities as numbers,
 * `n`, `n(label)` or `N(label)`, `;` comments (`\;` escapes one). The application's data is everything between
 * the first '(' and the last ')' of the line. Anything else is an error, not ignored.
 */
export interface Priority {
  priority: number;
  label?: string;
  app: string;
  data: string;
  line: number;
}

export interface Extension {
  name: string;
  isPattern: boolean;
  priorities: Map<number, Priority>;
  labels: Map<string, number>;
}

export interface Context {
  name: string;
  /** Literal extensions by name with '-' removed (Asterisk ignores '-' when matching). */
  literals: Map<string, Extension>;
  /** Patterns in Asterisk's sort order (main/pbx.c ext_cmp): the first that matches wins. */
  patterns: Extension[];
}

export class DialplanSyntaxError extends Error {}

export function parseDialplan(text: string): Map<string, Context> {
  const contexts = new Map<string, Context>();
  let context: Context | undefined;
  let last: { ext: Extension; priority: number } | undefined;
  text.split('\n').forEach((raw, index) => {
    const lineNo = index + 1;
    const line = stripComment(raw).trim();
    if (line === '') return;
    const fail = (msg: string): never => {
      throw new DialplanSyntaxError(`line ${lineNo}: ${msg}: ${raw}`);
    };
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      const name = header[1]!;
      if (contexts.has(name)) fail(`context ${name} defined twice`);
      context = { name, literals: new Map(), patterns: [] };
      contexts.set(name, context);
      last = undefined;
      return;
    }
    const entry = /^(exten|same)\s*=>?\s*(.*)$/.exec(line);
    if (!entry) fail('not an exten/same line or context header');
    if (!context) fail('extension outside a context');
    let rest = entry![2]!;
    let ext: Extension;
    if (entry![1] === 'exten') {
      const comma = rest.indexOf(',');
      if (comma < 0) fail('no priority');
      const name = rest.slice(0, comma).trim();
      rest = rest.slice(comma + 1);
      ext = findOrAdd(context!, name);
    } else {
      if (!last) fail('same => without a preceding exten');
      ext = last!.ext;
    }
    const comma = rest.indexOf(',');
    if (comma < 0) fail('no application');
    const prioText = rest.slice(0, comma).trim();
    const appText = rest.slice(comma + 1).trim();
    const prio = /^(n|\d+)(?:\(([^)]*)\))?$/.exec(prioText);
    if (!prio) fail(`priority ${prioText} not supported`);
    let priority: number;
    if (prio![1] === 'n') {
      if (!last || last.ext !== ext) fail("priority 'n' without a previous priority of this extension");
      priority = last!.priority + 1;
    } else priority = Number(prio![1]);
    if (ext.priorities.has(priority)) fail(`priority ${priority} of ${ext.name} defined twice`);
    const open = appText.indexOf('(');
    const close = appText.lastIndexOf(')');
    if (open < 0 || close < open) fail('application without (data)');
    const app = appText.slice(0, open).trim();
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(app)) fail(`bad application name ${app}`);
    const p: Priority = { priority, app, data: appText.slice(open + 1, close), line: lineNo };
    const label = prio![2];
    if (label !== undefined) {
      if (ext.labels.has(label)) fail(`label ${label} defined twice in ${ext.name}`);
      p.label = label;
      ext.labels.set(label, priority);
    }
    ext.priorities.set(priority, p);
    last = { ext, priority };
  });
  return contexts;
}

/** config.c: ';' starts a comment unless written '\;' (which becomes ';'). */
function stripComment(line: string): string {
  let out = '';
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\\' && line[i + 1] === ';') {
      out += ';';
      i++;
    } else if (line[i] === ';') break;
    else out += line[i];
  }
  return out;
}

function findOrAdd(context: Context, name: string): Extension {
  const isPattern = name.startsWith('_');
  if (!isPattern) {
    const key = name.replace(/-/g, '');
    let ext = context.literals.get(key);
    if (!ext) context.literals.set(key, (ext = { name, isPattern, priorities: new Map(), labels: new Map() }));
    return ext;
  }
  let ext = context.patterns.find((e) => e.name === name);
  if (!ext) {
    ext = { name, isPattern, priorities: new Map(), labels: new Map() };
    context.patterns.push(ext);
    context.patterns.sort((a, b) => comparePatterns(a.name.slice(1), b.name.slice(1)));
  }
  return ext;
}

/** pbx.c pbx_find_extension with the default matcher (extenpatternmatchnew=no): literals first, then patterns in order. */
export function findExtension(context: Context, exten: string): Extension | undefined {
  const literal = context.literals.get(exten.replace(/-/g, ''));
  if (literal) return literal;
  return context.patterns.find((p) => patternMatches(p.name.slice(1), exten));
}

/** A node of pbx.c's extension trie (struct match_char), used when extensions.conf sets extenpatternmatchnew = yes. */
interface TrieNode {
  chars: string;
  isPattern: boolean;
  specificity: number;
  exten?: Extension;
  next?: TrieNode;
  alt?: TrieNode;
}

const tries = new WeakMap<Context, TrieNode | undefined>();

/**
 * pbx.c new_find_extension for E_MATCH: the context's extensions in a trie whose sibling lists are sorted by
 * specificity (add_pattern_node: a literal character 1, a [set] (size << 8 | first char), N/Z/X 0x832/0x931/0xa30,
 * '.' 0x18000, '!' 0x28000); the first complete match in that order wins.
 */
export function findExtensionTrie(context: Context, exten: string): Extension | undefined {
  if (!tries.has(context)) tries.set(context, buildTrie(context));
  return trieMatch(tries.get(context), exten);
}

function buildTrie(context: Context): TrieNode | undefined {
  const root: { next?: TrieNode } = {};
  for (const ext of [...context.literals.values(), ...context.patterns]) {
    let parent = root;
    const nodes = trieNodes(ext);
    nodes.forEach((n, i) => {
      let node = siblings(parent.next).find((s) => s.isPattern === n.isPattern && s.chars === n.chars);
      if (!node) {
        node = { ...n };
        insertSorted(parent, node);
      }
      if (i === nodes.length - 1) node.exten = ext;
      parent = node;
    });
  }
  return root.next;
}

function siblings(first: TrieNode | undefined): TrieNode[] {
  const out: TrieNode[] = [];
  for (let n = first; n; n = n.alt) out.push(n);
  return out;
}

/** insert_in_next_chars_alt_char_list: before the first sibling with a higher specificity (after equal ones). */
function insertSorted(parent: { next?: TrieNode }, node: TrieNode): void {
  if (!parent.next || parent.next.specificity > node.specificity) {
    node.alt = parent.next;
    parent.next = node;
    return;
  }
  let prev = parent.next;
  while (prev.alt && prev.alt.specificity <= node.specificity) prev = prev.alt;
  node.alt = prev.alt;
  prev.alt = node;
}

/** get_pattern_node: one node per character or [set]; '-' skipped; n/x/z canonical upper case in patterns. */
function trieNodes(ext: Extension): Omit<TrieNode, 'exten' | 'next' | 'alt'>[] {
  const text = ext.isPattern ? ext.name.slice(1) : ext.name;
  const out: Omit<TrieNode, 'exten' | 'next' | 'alt'>[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '-') continue;
    if (ext.isPattern && c === '[') {
      const end = text.indexOf(']', i + 1);
      if (end < 0) throw new DialplanSyntaxError(`wrong usage of [] in _${text}`);
      const chars = [...new Set(expandSet(text.slice(i + 1, end)))].sort().join('');
      out.push({ chars, isPattern: true, specificity: (chars.length << 8) | chars.charCodeAt(0) });
      i = end;
      continue;
    }
    const ch = ext.isPattern && 'nxz'.includes(c) ? c.toUpperCase() : c;
    const special = { N: 0x0832, Z: 0x0931, X: 0x0a30, '.': 0x18000, '!': 0x28000 }[ch];
    out.push({ chars: ch, isPattern: ext.isPattern, specificity: ext.isPattern && special !== undefined ? special : 1 });
  }
  return out;
}

function expandSet(set: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < set.length; i++) {
    if (i + 2 < set.length && set[i + 1] === '-') {
      for (let k = set.charCodeAt(i); k <= set.charCodeAt(i + 2); k++) out.push(String.fromCharCode(k));
      i += 2;
    } else out.push(set[i]!);
  }
  return out;
}

function trieMatch(first: TrieNode | undefined, str: string): Extension | undefined {
  for (let p = first; p; p = p.alt) {
    const c = str[0];
    if (p.isPattern && p.chars === '!') {
      if (p.exten) return p.exten;
      continue;
    }
    if (p.isPattern && p.chars === '.') {
      if (str.length > 0 && p.exten) return p.exten;
      continue;
    }
    if (c === undefined) continue;
    const matches = p.isPattern
      ? p.chars === 'N'
        ? c >= '2' && c <= '9'
        : p.chars === 'Z'
          ? c >= '1' && c <= '9'
          : p.chars === 'X'
            ? c >= '0' && c <= '9'
            : p.chars.includes(c)
      : p.chars === c;
    if (!matches) continue;
    // NEW_MATCHER_CHK_MATCH: the string ends here and this node ends an extension.
    if (p.exten && str.length === 1) return p.exten;
    // NEW_MATCHER_RECURSE: more characters, or a following '!' that also matches nothing.
    if (p.next && (str.length > 1 || p.next.chars === '!')) {
      const found = trieMatch(p.next, str.slice(1));
      if (found) return found;
    }
  }
  return undefined;
}

/** _extension_match_core in E_MATCH mode ('!' and '.' only at the end, as Asterisk documents). */
export function patternMatches(pattern: string, data: string): boolean {
  let p = 0;
  let d = 0;
  for (;;) {
    while (data[d] === '-') d++;
    while (pattern[p] === '-') p++;
    if (d >= data.length || p >= pattern.length || pattern[p] === '/') break;
    const c = pattern[p]!;
    const ch = data[d]!;
    if (c === '[') {
      const end = pattern.indexOf(']', p + 1);
      if (end < 0) return false;
      if (!inSet(pattern.slice(p + 1, end), ch)) return false;
      p = end;
    } else if (c === 'N' || c === 'n') {
      if (ch < '2' || ch > '9') return false;
    } else if (c === 'X' || c === 'x') {
      if (ch < '0' || ch > '9') return false;
    } else if (c === 'Z' || c === 'z') {
      if (ch < '1' || ch > '9') return false;
    } else if (c === '.') return true;
    else if (c === '!') return true;
    else if (c !== ch) return false;
    d++;
    p++;
  }
  if (d < data.length) return false;
  while (pattern[p] === '-') p++;
  return p >= pattern.length || pattern[p] === '/' || pattern[p] === '!';
}

function inSet(set: string, ch: string): boolean {
  for (let i = 0; i < set.length; i++) {
    if (i + 2 < set.length && set[i + 1] === '-') {
      if (ch >= set[i]! && ch <= set[i + 2]!) return true;
      i += 2;
    } else if (set[i] === ch) return true;
  }
  return false;
}

/** ext_cmp_pattern: position by position, smaller character sets first, '.' then '!' last. */
function comparePatterns(a: string, b: string): number {
  const pa = patternPositions(a);
  const pb = patternPositions(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0x30000;
    const y = pb[i] ?? 0x30000;
    if (x !== y) return x - y;
  }
  return 0;
}

function patternPositions(pattern: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '-') continue;
    if (c === 'N' || c === 'n') out.push(0x0800 | 0x32);
    else if (c === 'X' || c === 'x') out.push(0x0a00 | 0x30);
    else if (c === 'Z' || c === 'z') out.push(0x0900 | 0x31);
    else if (c === '.') out.push(0x18000);
    else if (c === '!') out.push(0x28000);
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new DialplanSyntaxError(`wrong usage of [] in pattern _${pattern}`);
      const chars = new Set<number>();
      const set = pattern.slice(i + 1, end);
      for (let j = 0; j < set.length; j++) {
        if (j + 2 < set.length && set[j + 1] === '-') {
          for (let k = set.charCodeAt(j); k <= set.charCodeAt(j + 2); k++) chars.add(k);
          j += 2;
        } else chars.add(set.charCodeAt(j));
      }
      out.push((chars.size << 8) | Math.min(...chars));
      i = end;
    } else out.push(0x0100 | c.charCodeAt(0));
  }
  return out;
}
