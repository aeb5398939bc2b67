import { separateArgs } from './app-args.ts';
import type { Channel } from './channel.ts';
import { checkCondition } from './applications.ts';
import { InterpreterError, type Pbx } from './pbx.ts';

/** A dialplan function's read callback: the result, or null when the C function returns -1 (nothing substituted). */
export type DialplanFunction = (pbx: Pbx, chan: Channel, args: string) => string | null;
export type DialplanFunctionWriter = (pbx: Pbx, chan: Channel, args: string, value: string) => void;

const standard = (args: string, max: number) => separateArgs(args, ',', true, max);

/** ast_get_encoded_char for the plain characters this dialplan uses; escapes are not modelled. */
function plainChar(s: string, what: string): string {
  if (s.startsWith('\\')) throw new InterpreterError(`${what}: backslash escapes are not modelled`);
  return s[0] ?? '';
}

/** The value of a variable read by name, as FIELDQTY, FIELDNUM and CUT do it ("${name}" substituted). */
function byName(pbx: Pbx, chan: Channel, name: string): string {
  return pbx.substitute(chan, `\${${name}}`);
}

export const FUNCTIONS: Record<string, DialplanFunction> = {
  /** funcs/func_strings.c filter(): RAW args, so the string is the unaltered rest after the first comma. */
  FILTER(_pbx, _chan, args) {
    const [allowedSpec, string] = separateArgs(args, ',', false, 2);
    if (string === undefined) return null;
    const allowed = allowedSet(allowedSpec!);
    return [...string].filter((ch) => ch.length === 1 && allowed.has(ch.charCodeAt(0))).join('');
  },

  /** func_strings.c regex(): `"pattern" string`, split at '"' with quotes/backslashes removed; POSIX ERE, unanchored. */
  REGEX(_pbx, _chan, args) {
    const parts = separateArgs(args, '"', true, 3);
    if (parts.length !== 3) return null;
    let str = parts[2]!;
    if (str.startsWith(' ') || str.startsWith('\t')) str = str.slice(1);
    if (!/^[\w^$|()]*$/.test(parts[1]!)) throw new InterpreterError(`REGEX: pattern ${parts[1]} uses ERE features not modelled`);
    return new RegExp(parts[1]!).test(str) ? '1' : '0';
  },

  /** func_cut.c: CUT(varname,delimiter,field): the variable is read by name; fields count from 1. */
  CUT(pbx, chan, args) {
    const [varname, delimiter, field] = standard(args, 3);
    if (field === undefined) return null;
    const delim = plainChar(delimiter!, 'CUT') || '-';
    const m = /^\s*(\d+)\s*$/.exec(field);
    if (!m) throw new InterpreterError(`CUT: field spec ${field} is not modelled`);
    const n = Number(m[1]);
    const parts = byName(pbx, chan, varname!).split(delim);
    return n >= 1 && n <= parts.length ? parts[n - 1]! : '';
  },

  /** func_logic.c acf_if: `expr?true:false`, split at '?' then ':' (quotes removed), each part stripped of blanks. */
  IF(_pbx, _chan, args) {
    const [expr, remainder] = separateArgs(args, '?', true, 2);
    const [iftrue, iffalse] = remainder === undefined ? [] : separateArgs(remainder, ':', true, 2);
    if (!expr?.trim() || (iftrue === undefined && iffalse === undefined)) return null;
    return checkCondition(expr.trim()) ? (iftrue ?? '').trim() : (iffalse ?? '').trim();
  },

  /** func_strings.c len(): the byte length of the whole argument text. */
  LEN(_pbx, _chan, args) {
    return String(Buffer.byteLength(args));
  },

  /** func_strings.c FIELDQTY(varname,delim): 0 for an empty value, else the number of strsep() fields. */
  FIELDQTY(pbx, chan, args) {
    const [varname, delimiter] = standard(args, 2);
    if (delimiter === undefined) return '1';
    const value = byName(pbx, chan, varname!);
    const delim = plainChar(delimiter, 'FIELDQTY');
    return value === '' ? '0' : String(delim === '' ? 1 : value.split(delim).length);
  },

  /** func_strings.c FIELDNUM(varname,delim,value): index of the first field equal ignoring case (strcasecmp), else 0. */
  FIELDNUM(pbx, chan, args) {
    const [varname, delimiter, field] = standard(args, 3);
    if (field === undefined) return null;
    const value = byName(pbx, chan, varname!);
    if (value === '' || delimiter === '') return '0';
    const fields = value.split(plainChar(delimiter!, 'FIELDNUM'));
    const at = fields.findIndex((f) => asciiLower(f) === asciiLower(field));
    return String(at + 1);
  },

  /** func_strings.c strftime: STRFTIME(epoch,timezone,format) in the PBX's zone; %Y %m %d %H %M %S only. */
  STRFTIME(pbx, _chan, args) {
    const [epoch, tz, format] = standard(args, 3);
    if (tz) throw new InterpreterError('STRFTIME: an explicit time zone is not modelled');
    const when = epoch ? Number(epoch) : pbx.now();
    const parts = dateParts(pbx.timeZone, when);
    const map: Record<string, string> = { Y: parts.year!, m: parts.month!, d: parts.day!, H: parts.hour!, M: parts.minute!, S: parts.second! };
    return (format || '%c').replace(/%(.)/g, (_, c: string) => {
      const v = map[c];
      if (v === undefined) throw new InterpreterError(`STRFTIME: %${c} is not modelled`);
      return v;
    });
  },

  /**
   * funcs/func_evalexten.c: context,exten,priority split at plain commas; the priority's application data is
   * substituted (never executed). A missing extension makes the function fail: nothing is substituted.
   */
  EVAL_EXTEN(pbx, chan, args) {
    const [context = '', exten = '', priority = ''] = args.split(',');
    const ctx = context || chan.context;
    const ext = exten || chan.exten;
    const number = pbx.resolvePriority(ctx, ext, priority);
    const step = number === undefined ? undefined : pbx.extension(ctx, ext)?.priorities.get(number);
    if (!step) {
      chan.effects.push({ kind: 'LookupFailed', what: `EVAL_EXTEN(${args})` });
      return null;
    }
    return pbx.substitute(chan, step.data);
  },

  /** app_stack.c LOCAL(name) reads the variable like any other. */
  LOCAL(pbx, chan, args) {
    return pbx.retrieveVariable(chan, args);
  },

  /** CALLERID(num), for test dialplans that start from a caller. */
  CALLERID(_pbx, chan, args) {
    if (args !== 'num') throw new InterpreterError(`CALLERID(${args}) is not modelled`);
    return chan.callerNumber;
  },
};

export const FUNCTION_WRITERS: Record<string, DialplanFunctionWriter> = {
  /** app_stack.c local_write: a variable of the current Gosub frame, released by Return. */
  LOCAL(pbx, chan, args, value) {
    const frame = chan.frames[chan.frames.length - 1];
    if (!frame) throw new InterpreterError('LOCAL() outside a Gosub');
    pbx.frameSetVar(chan, frame, args, value);
  },
};

const allowedSets = new Map<string, Set<number>>();

/** FILTER's allowed characters: single characters and a-b ranges (ast_get_encoded_char escapes not modelled). */
function allowedSet(spec: string): Set<number> {
  let allowed = allowedSets.get(spec);
  if (allowed) return allowed;
  allowed = new Set<number>();
  for (let i = 0; i < spec.length; ) {
    const c1 = spec.charCodeAt(i);
    if (spec[i] === '\\') throw new InterpreterError('FILTER: escapes are not modelled');
    i++;
    if (spec[i] === '-') {
      const next = spec[i + 1];
      if (next === undefined) throw new InterpreterError('FILTER: a trailing "-" depends on ast_get_encoded_char of "" and is not modelled');
      const c2 = next.charCodeAt(0);
      if (c2 < c1) throw new InterpreterError('FILTER: wrapping ranges are not modelled');
      for (let c = c1; c <= c2; c++) allowed.add(c);
      i += 2;
    } else allowed.add(c1);
  }
  allowedSets.set(spec, allowed);
  return allowed;
}

const formats = new Map<string, Intl.DateTimeFormat>();
const dates = new Map<string, Record<string, string>>();

/** The local date and time parts of an epoch in a zone (memoized: Intl is slow and a test clock repeats). */
function dateParts(timeZone: string, when: number): Record<string, string> {
  const key = `${timeZone}|${when}`;
  let parts = dates.get(key);
  if (!parts) {
    if (dates.size > 1000) dates.clear();
    parts = Object.fromEntries(dateFormat(timeZone).formatToParts(new Date(when * 1000)).map((p) => [p.type, p.value]));
    dates.set(key, parts);
  }
  return parts;
}

function dateFormat(timeZone: string): Intl.DateTimeFormat {
  let format = formats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-GB', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
    formats.set(timeZone, format);
  }
  return format;
}

function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}
