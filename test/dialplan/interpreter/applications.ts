import { separateArgs } from './app-args.ts';
import type { Channel } from './channel.ts';
import { Hangup, InterpreterError, type Pbx } from './pbx.ts';

/** An application: its data arrives substituted; it throws Hangup where the C code returns -1. */
export type Application = (pbx: Pbx, chan: Channel, data: string) => void;

/** pbx.c pbx_checkcondition: empty is false, a leading integer is its value (sscanf %d), any other text is true. */
export function checkCondition(condition: string): boolean {
  if (condition === '') return false;
  const m = /^\s*([-+]?\d+)/.exec(condition);
  return m ? Number(m[1]) !== 0 : true;
}

/**
 * pbx.c _ast_parseable_goto: `[[context,]exten,]priority`, the priority a number, +n/-n, or a label.
 * An unknown label fails (-1: hangup); a numeric priority is only checked when the loop gets there.
 */
function parseableGoto(pbx: Pbx, chan: Channel, target: string): void {
  const parts = target.split(',');
  if (parts.length > 3) throw new InterpreterError(`goto target with more than three parts: ${target}`);
  const pri = parts[parts.length - 1]!;
  const exten = parts.length >= 2 ? parts[parts.length - 2]! : chan.exten;
  const context = parts.length === 3 ? parts[0]! : chan.context;
  let priority: number;
  const relative = /^([+-])\s*(\d+)/.exec(pri);
  if (relative) priority = chan.priority + (relative[1] === '+' ? 1 : -1) * Number(relative[2]);
  else {
    const resolved = pbx.resolvePriority(context, exten, pri);
    if (resolved === undefined || resolved < 1) throw new Hangup(`Priority '${pri}' must be a number > 0, or valid label`);
    priority = resolved;
  }
  chan.context = context;
  chan.exten = exten;
  // ast_explicit_goto inside the PBX loop: one less, the loop's increment lands on the target.
  chan.priority = priority - 1;
}

const MIXMONITOR_OPTIONS = new Set('abBDimnpPrStvVW'.split(''));

/** app.c parse_options for the MixMonitor subset: letters, some with a (parenthesised) argument. */
function parseOptions(options: string): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < options.length; i++) {
    const letter = options[i]!;
    if (!MIXMONITOR_OPTIONS.has(letter)) throw new InterpreterError(`MixMonitor option ${letter} is not modelled`);
    let arg = '';
    if (options[i + 1] === '(') {
      const close = options.indexOf(')', i + 2);
      if (close < 0) throw new InterpreterError(`MixMonitor option ${letter}: missing ')'`);
      arg = options.slice(i + 2, close);
      i = close;
    }
    out.set(letter, arg);
  }
  return out;
}

let mixMonitorIds = 0x55d0c0de0000;

export const APPLICATIONS: Record<string, Application> = {
  noop() {},

  /** pbx_builtin_setvar: name up to the first '=', the value is the rest, verbatim (no argument parsing). */
  set(pbx, chan, data) {
    const eq = data.indexOf('=');
    if (data === '' || eq < 0) return;
    pbx.setVariable(chan, data.slice(0, eq), data.slice(eq + 1));
  },

  /** pbx_builtin_setvar_multiple: pairs split at ',' then '=' (standard arguments: quotes and backslashes removed). */
  mset(pbx, chan, data) {
    for (const pair of separateArgs(data, ',', true, 99)) {
      const [name, value] = separateArgs(pair, '=', true, 2);
      if (value !== undefined) pbx.setVariable(chan, name!, value);
    }
  },

  /** pbx_builtin_goto. */
  goto(pbx, chan, data) {
    parseableGoto(pbx, chan, data);
  },

  /** pbx_builtin_gotoif: `condition?label1:label2`, split at the first '?' and the next ':'; an empty branch continues. */
  gotoif(pbx, chan, data) {
    if (data === '') return;
    const q = data.indexOf('?');
    const condition = q < 0 ? data : data.slice(0, q);
    const rest = q < 0 ? undefined : data.slice(q + 1);
    const colon = rest === undefined ? -1 : rest.indexOf(':');
    const branch1 = rest === undefined ? undefined : colon < 0 ? rest : rest.slice(0, colon);
    const branch2 = rest === undefined || colon < 0 ? undefined : rest.slice(colon + 1);
    const branch = checkCondition(condition) ? branch1 : branch2;
    if (branch) parseableGoto(pbx, chan, branch);
  },

  /** app_stack.c gosub_exec: `target(args)`, the arguments split RAW (quotes and backslashes kept). */
  gosub(pbx, chan, data) {
    if (data === '') throw new Hangup('Gosub requires an argument');
    const open = data.indexOf('(');
    const target = open < 0 ? data : data.slice(0, open);
    let args: string[] = [];
    if (open >= 0) {
      const close = data.lastIndexOf(')');
      args = separateArgs(close > open ? data.slice(open + 1, close) : data.slice(open + 1), ',', false, 100);
    }
    const from = { context: chan.context, exten: chan.exten, priority: chan.priority };
    parseableGoto(pbx, chan, target);
    if (!pbx.extension(chan.context, chan.exten)?.priorities.has(chan.priority + 1)) {
      throw new Hangup(`Attempt to reach a non-existent destination for Gosub: ${target}`);
    }
    const location = { context: chan.context, exten: chan.exten, priority: chan.priority };
    Object.assign(chan, from);
    pbx.pushFrame(chan, { context: from.context, exten: from.exten, returnPriority: from.priority + 1, vars: new Set(), arguments: 0 }, args);
    Object.assign(chan, location);
  },

  /** app_stack.c return_exec: the whole data is the return value. */
  return(pbx, chan, data) {
    pbx.popFrame(chan, data);
  },

  /** app_verbose.c log_exec: Log(level,message). */
  log(_pbx, chan, data) {
    const [level, message] = separateArgs(data, ',', true, 2);
    if (!level || !['ERROR', 'WARNING', 'NOTICE', 'DEBUG', 'VERBOSE', 'DTMF'].includes(level.toUpperCase())) {
      throw new InterpreterError(`Log: unknown level ${level}`);
    }
    chan.effects.push({ kind: 'Log', level: level.toUpperCase(), message: message ?? '' });
  },

  /**
   * app_exec.c execif_exec, preferred syntax `expr?app(args)[:app(args)]`: split RAW at the first '?' then ':',
   * an application's data runs from its first '(' to its last ')'; an unknown application returns -1.
   */
  execif(pbx, chan, data) {
    const firstComma = data.indexOf(',');
    const firstQuestion = data.indexOf('?');
    if (firstQuestion < 0 || (firstComma >= 0 && firstComma < firstQuestion)) throw new InterpreterError('ExecIf: the deprecated comma syntax is not modelled');
    const [expr = '', remainder] = separateArgs(data, '?', false, 2);
    if (!remainder) throw new Hangup('Usage: ExecIf(<expr>?<appiftrue>(<args>)[:<appiffalse>(<args)])');
    const [t, f] = separateArgs(remainder, ':', false, 2);
    const split = (call: string | undefined): [string, string] | undefined => {
      if (call === undefined) return undefined;
      const open = call.indexOf('(');
      if (open < 0) return [call, ''];
      const close = call.lastIndexOf(')');
      return [call.slice(0, open), close > open ? call.slice(open + 1, close) : call.slice(open + 1)];
    };
    const run = (call: [string, string] | undefined) => {
      const app = call && call[0] !== '' ? APPLICATIONS[call[0].toLowerCase()] : undefined;
      if (!app) throw new Hangup(`Could not find application! (${call?.[0]})`);
      app(pbx, chan, call![1]);
    };
    if (checkCondition(expr)) run(split(t));
    else if (f) run(split(f));
  },

  /**
   * app_mixmonitor.c stop_mixmonitor_exec: stops the MixMonitor with that id (or, without one, the channel's
   * first); never fails, also when nothing records.
   */
  stopmixmonitor(_pbx, chan, data) {
    const running = chan.runningMixMonitors();
    const target = data === '' ? running[0] : running.find((m) => m.id === data);
    if (target?.id) chan.effects.push({ kind: 'StopMixMonitor', id: target.id });
  },

  /**
   * app_mixmonitor.c mixmonitor_exec: MixMonitor(file,options,command). Sets MIXMONITOR_FILENAME and, with
   * i(var), var to the new MixMonitor's id (launch_monitor_thread). The recording itself is an effect here.
   */
  mixmonitor(_pbx, chan, data) {
    if (data === '') throw new Hangup('MixMonitor requires an argument');
    const [file, options = '', command] = separateArgs(data, ',', true, 3);
    if (command !== undefined && command !== '') throw new InterpreterError('MixMonitor post-command is not modelled');
    if (!file!.startsWith('/')) throw new InterpreterError('MixMonitor with a relative file name is not modelled');
    const opts = parseOptions(options);
    const id = `0x${(mixMonitorIds++).toString(16)}`;
    chan.setVar('MIXMONITOR_FILENAME', file!);
    const idVar = opts.get('i');
    if (idVar) chan.setVar(idVar, id);
    const beep = opts.get('B');
    chan.effects.push({ kind: 'MixMonitor', file: file!, options, ...(beep === undefined ? {} : { beep: Number(beep) }), ...(idVar ? { id } : {}) });
  },
};
