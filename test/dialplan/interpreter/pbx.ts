import { Channel, type Frame } from './channel.ts';
import { findExtension, findExtensionTrie, parseDialplan, type Context, type Extension } from './dialplan.ts';
import { evaluateExpression } from './expression.ts';
import { APPLICATIONS } from './applications.ts';
import { FUNCTIONS, FUNCTION_WRITERS } from './functions.ts';

/** A mistake in the dialplan or in a test (unknown application or function, bad syntax): never a silent no-op. */
export class InterpreterError extends Error {}

/** An application returned -1: Asterisk hangs the channel up. */
export class Hangup extends Error {}

export interface RunResult {
  /** Priorities executed (the harness's own Gosub is not one). */
  priorities: number;
  /** Set when the channel would have been hung up, with Asterisk's reason. */
  hangup?: string;
  /** GOSUB_RETVAL after the routine returned. */
  retval?: string;
  /** Applications executed, in order (for "no extra applications" checks). */
  apps: string[];
}

export interface PbxOptions {
  /** Seconds since the epoch for ${EPOCH} (a fixed clock keeps runs reproducible). */
  now?: () => number;
  /** The PBX's local time zone (IANA name), for STRFTIME. */
  timeZone?: string;
  /** extensions.conf [general] extenpatternmatchnew: the trie matcher instead of the default list walk. */
  extenPatternMatchNew?: boolean;
}

const INT_MAX = 2147483647;

/**
 * A dialplan interpreter with Asterisk 22's semantics for the subset mitschnitt uses: variable and function
 * substitution (main/pbx_variables.c), `$[...]` (main/ast_expr2.y), extension matching (main/pbx.c), and the
 * applications and functions in applications.ts / functions.ts.
 */
export class Pbx {
  readonly contexts: Map<string, Context>;
  readonly now: () => number;
  readonly timeZone: string;
  readonly extenPatternMatchNew: boolean;
  /** Set by Return when it pops the harness's frame. */
  private routineDone = false;
  private apps: string[] = [];
  /** Templates split once into literal text and ${}/$[] blocks (only dialplan text is ever a template, never a value). */
  private readonly compiled = new Map<string, Segment[]>();

  constructor(text: string, options: PbxOptions = {}) {
    this.contexts = parseDialplan(text);
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
    this.timeZone = options.timeZone ?? 'UTC';
    this.extenPatternMatchNew = options.extenPatternMatchNew ?? false;
  }

  /** The extension a channel would run for (context, exten), or undefined. */
  extension(context: string, exten: string): Extension | undefined {
    const ctx = this.contexts.get(context);
    if (!ctx) return undefined;
    return this.extenPatternMatchNew ? findExtensionTrie(ctx, exten) : findExtension(ctx, exten);
  }

  /** ast_findlabel_extension / a numeric priority: the priority number, or undefined if it does not exist. */
  resolvePriority(context: string, exten: string, priority: string): number | undefined {
    const ext = this.extension(context, exten);
    if (!ext) return undefined;
    const n = /^\s*[-+]?\d+/.exec(priority);
    if (n) return Number(n[0]);
    return ext.labels.get(priority);
  }

  /**
   * Runs Gosub(context,exten,priority(args)) as the harness: the arguments arrive exactly as given (as if the
   * caller's Gosub had split them), and the run ends when the routine's Return pops this frame.
   */
  callRoutine(chan: Channel, context: string, exten: string, priority: number, args: string[]): RunResult {
    if (!this.extension(context, exten)?.priorities.has(priority)) throw new InterpreterError(`no ${context},${exten},${priority}`);
    this.pushFrame(chan, { context: chan.context, exten: chan.exten, returnPriority: null, vars: new Set(), arguments: 0 }, args);
    chan.context = context;
    chan.exten = exten;
    chan.priority = priority;
    return this.loop(chan, true);
  }

  /** Runs a channel from (context, exten, priority) until its extension ends, as the PBX thread would. */
  run(chan: Channel, context: string, exten: string, priority = 1): RunResult {
    chan.context = context;
    chan.exten = exten;
    chan.priority = priority;
    return this.loop(chan, false);
  }

  private loop(chan: Channel, untilReturn: boolean): RunResult {
    this.routineDone = false;
    this.apps = [];
    let priorities = 0;
    for (;;) {
      const ext = this.extension(chan.context, chan.exten);
      const step = ext?.priorities.get(chan.priority);
      if (!step) {
        // autofallthrough: a channel that runs off its extension is hung up.
        if (untilReturn || priorities === 0) return { priorities, apps: this.apps, hangup: `no priority ${chan.priority} in ${chan.exten}@${chan.context}` };
        return { priorities, apps: this.apps };
      }
      if (priorities > 10_000) throw new InterpreterError('more than 10000 priorities: a loop');
      priorities++;
      const app = APPLICATIONS[step.app.toLowerCase()];
      if (!app) throw new InterpreterError(`line ${step.line}: unknown application ${step.app}`);
      this.apps.push(step.app);
      const data = this.substitute(chan, step.data);
      try {
        app(this, chan, data);
      } catch (err) {
        if (err instanceof Hangup) return { priorities, apps: this.apps, hangup: `line ${step.line}: ${step.app}: ${err.message}` };
        throw err;
      }
      if (untilReturn && this.routineDone) return { priorities, apps: this.apps, retval: chan.getVar('GOSUB_RETVAL') ?? '' };
      chan.priority++;
    }
  }

  /** Gosub's frame: ARGn via frame-local variables, masking a deeper frame's extra ARGs with empty ones. */
  pushFrame(chan: Channel, frame: Frame, args: string[]): void {
    const outer = chan.frames[chan.frames.length - 1];
    frame.arguments = Math.max(args.length, outer?.arguments ?? 0);
    for (let i = 0; i < frame.arguments; i++) this.frameSetVar(chan, frame, `ARG${i + 1}`, i < args.length ? args[i]! : '');
    this.frameSetVar(chan, frame, 'ARGC', String(args.length));
    chan.frames.push(frame);
  }

  /** app_stack.c frame_set_var: the first set in a frame shadows (push), later ones overwrite. */
  frameSetVar(chan: Channel, frame: Frame, name: string, value: string): void {
    if (frame.vars.has(name)) chan.setVar(name, value);
    else {
      frame.vars.add(name);
      chan.pushVar(name, value);
    }
  }

  /** Return: back to the caller, GOSUB_RETVAL set, then the frame's variables released (shadowed values come back). */
  popFrame(chan: Channel, retval: string): void {
    const frame = chan.frames.pop();
    if (!frame) throw new Hangup('Return without Gosub: stack is empty');
    chan.setVar('GOSUB_RETVAL', retval);
    for (const name of frame.vars) chan.setVar(name, null);
    if (frame.returnPriority === null) {
      this.routineDone = true;
      return;
    }
    chan.context = frame.context;
    chan.exten = frame.exten;
    chan.priority = frame.returnPriority - 1;
  }

  /** pbx_substitute_variables_helper_full: `${...}` and `$[...]`, innermost contents first, values never re-read. */
  substitute(chan: Channel, template: string): string {
    let segments = this.compiled.get(template);
    if (!segments) this.compiled.set(template, (segments = compileTemplate(template)));
    let out = '';
    for (const segment of segments) {
      if (typeof segment === 'string') {
        out += segment;
        continue;
      }
      const text = segment.needsub ? this.substitute(chan, segment.inner) : segment.inner;
      if (segment.kind === '[') out += evaluateExpression(text);
      else {
        const { name, offset, length, isFunction } = parseVariableName(text);
        const value = isFunction ? this.readFunction(chan, name) : this.retrieveVariable(chan, name);
        if (value !== null) out += substring(value, offset, length);
      }
    }
    return out;
  }

  /** pbx_retrieve_variable: the channel's built-in names first, then its variables. null = not set. */
  retrieveVariable(chan: Channel, name: string): string | null {
    switch (name) {
      case 'EXTEN':
        return chan.exten;
      case 'CONTEXT':
        return chan.context;
      case 'PRIORITY':
        return String(chan.priority);
      case 'CHANNEL':
        return chan.name;
      case 'UNIQUEID':
        return chan.uniqueid;
      case 'EPOCH':
        return String(this.now());
    }
    return chan.getVar(name) ?? null;
  }

  /** ast_func_read: NAME(args) with args between the first '(' and the last ')'; a failing function gives nothing. */
  readFunction(chan: Channel, call: string): string | null {
    const open = call.indexOf('(');
    const close = call.lastIndexOf(')');
    if (open < 0 || close < open) throw new InterpreterError(`function without (): ${call}`);
    const name = call.slice(0, open);
    const fn = FUNCTIONS[name];
    if (!fn) throw new InterpreterError(`function ${name} is not registered`);
    return fn(this, chan, call.slice(open + 1, close));
  }

  /** pbx_builtin_setvar_helper: NAME(args)=… writes a function, anything else a variable. */
  setVariable(chan: Channel, name: string, value: string | null): void {
    if (name.endsWith(')')) {
      const open = name.indexOf('(');
      const writer = FUNCTION_WRITERS[name.slice(0, open)];
      if (open < 0 || !writer) throw new InterpreterError(`function ${name} cannot be written`);
      writer(this, chan, name.slice(open + 1, -1), value ?? '');
      return;
    }
    chan.setVar(name, value);
  }
}

type Segment = string | { kind: '{' | '['; inner: string; needsub: boolean };

/** The scanning half of pbx_substitute_variables_helper_full: where each ${...} or $[...] block ends. */
function compileTemplate(template: string): Segment[] {
  const segments: Segment[] = [];
  let literal = '';
  let i = 0;
  while (i < template.length) {
    const dollar = template.indexOf('$', i);
    if (dollar < 0) {
      literal += template.slice(i);
      break;
    }
    const kind = template[dollar + 1];
    if (kind !== '{' && kind !== '[') {
      literal += template.slice(i, dollar + 1);
      i = dollar + 1;
      continue;
    }
    literal += template.slice(i, dollar);
    let j = dollar + 2;
    let depth = 1;
    let needsub = false;
    if (kind === '{') {
      // Only braces count; a "${" or "$[" inside means the contents need substituting first.
      while (depth && j < template.length) {
        if (template[j] === '$' && (template[j + 1] === '{' || template[j + 1] === '[')) needsub = true;
        else if (template[j] === '{') depth++;
        else if (template[j] === '}') depth--;
        j++;
      }
    } else {
      while (depth && j < template.length) {
        if (template[j] === '$' && template[j + 1] === '[') {
          needsub = true;
          depth++;
          j++;
        } else if (template[j] === '[') depth++;
        else if (template[j] === ']') depth--;
        else if (template[j] === '$' && template[j + 1] === '{') {
          needsub = true;
          j++;
        }
        j++;
      }
    }
    if (depth) throw new InterpreterError(`missing '${kind === '{' ? '}' : ']'}' in ${template}`);
    if (literal) segments.push(literal);
    literal = '';
    segments.push({ kind, inner: template.slice(dollar + 2, j - 1), needsub });
    i = j;
  }
  if (literal) segments.push(literal);
  return segments;
}

/** parse_variable_name: a ':' outside parentheses starts ${var:offset:length}; any '(' makes it a function. */
export function parseVariableName(text: string): { name: string; offset: number; length: number; isFunction: boolean } {
  let parens = 0;
  let isFunction = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') {
      isFunction = true;
      parens++;
    } else if (c === ')') parens--;
    else if (c === ':' && parens === 0) {
      const m = /^\s*([-+]?\d+)(?::\s*([-+]?\d+))?/.exec(text.slice(i + 1));
      return {
        name: text.slice(0, i),
        offset: m ? clamp(Number(m[1])) : 0,
        length: m && m[2] !== undefined ? clamp(Number(m[2])) : INT_MAX,
        isFunction,
      };
    }
  }
  return { name: text, offset: 0, length: INT_MAX, isFunction };
}

function clamp(n: number): number {
  return Math.max(-INT_MAX - 1, Math.min(INT_MAX, n));
}

/** pbx_variables.c substring(): negative offsets count from the end, a negative length cuts from the end. */
export function substring(value: string, offset: number, length: number): string {
  const lr = value.length;
  if (offset === 0 && length >= lr) return value;
  if (offset < 0) offset = Math.max(0, lr + offset);
  if (offset >= lr) return '';
  let ret = value.slice(offset);
  if (length >= 0 && length < lr - offset) ret = ret.slice(0, length);
  else if (length < 0) ret = lr > offset - length ? ret.slice(0, lr + length - offset) : '';
  return ret;
}

export { Channel };
