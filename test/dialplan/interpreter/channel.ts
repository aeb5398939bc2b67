/** One entry of a channel's variable list; `name` keeps its '_'/'__' inheritance prefix, as Asterisk stores it. */
export interface ChannelVar {
  name: string;
  value: string;
  /** The name without its prefix, what lookups compare. */
  key: string;
}

/** A Gosub stack frame (apps/app_stack.c gosub_stack_frame). */
export interface Frame {
  context: string;
  exten: string;
  /** Where Return continues; for a routine called by the test harness, null: Return ends the run. */
  returnPriority: number | null;
  /** Names set through this frame (ARGn, ARGC, LOCAL()); released on Return. */
  vars: Set<string>;
  arguments: number;
}

export type Effect =
  | { kind: 'MixMonitor'; file: string; options: string; beep?: number; id?: string }
  | { kind: 'Log'; level: string; message: string }
  | { kind: 'StopMixMonitor'; id: string }
  | { kind: 'LookupFailed'; what: string };

/** Strips at most two leading underscores: the name Asterisk compares variables by (ast_var_name). */
export function plainName(name: string): string {
  return name.startsWith('__') ? name.slice(2) : name.startsWith('_') ? name.slice(1) : name;
}

let nextUniqueId = 1;

export class Channel {
  /** Head first, like ast_channel_varshead: a lookup finds the first entry with the name. */
  vars: ChannelVar[] = [];
  frames: Frame[] = [];
  effects: Effect[] = [];
  context = '';
  exten = '';
  priority = 1;
  readonly uniqueid: string;

  constructor(readonly name: string, readonly callerNumber = '', uniqueid?: string) {
    this.uniqueid = uniqueid ?? `1764100000.${nextUniqueId++}`;
  }

  getVar(name: string): string | undefined {
    return this.vars.find((v) => v.key === name)?.value;
  }

  /**
   * pbx_builtin_setvar_helper for a plain variable: the first entry of that (unprefixed) name is removed,
   * the new one goes to the head with the prefix as written; a null value only deletes.
   */
  setVar(name: string, value: string | null): void {
    const plain = plainName(name);
    const at = this.vars.findIndex((v) => v.key === plain);
    if (at >= 0) this.vars.splice(at, 1);
    if (value !== null) this.vars.unshift({ name, value, key: plain });
  }

  /** pbx_builtin_pushvar_helper: a new entry at the head that shadows, without removing, an older one. */
  pushVar(name: string, value: string): void {
    this.vars.unshift({ name, value, key: plainName(name) });
  }

  /**
   * A channel this one creates (Dial, Local, Queue member): main/channel.c ast_channel_inherit_variables
   * copies '_X' as 'X' (one level) and '__X' as '__X' (every level); everything else stays behind.
   */
  spawnChild(name: string, callerNumber = this.callerNumber): Channel {
    const child = new Channel(name, callerNumber);
    for (const v of this.vars) {
      if (v.name.startsWith('__')) child.vars.push({ ...v });
      else if (v.name.startsWith('_')) child.vars.push({ name: v.name.slice(1), value: v.value, key: v.key });
    }
    return child;
  }

  /** MixMonitors started on the channel and not stopped since. */
  runningMixMonitors(): Extract<Effect, { kind: 'MixMonitor' }>[] {
    return this.mixMonitors().filter((m) => !this.effects.some((e) => e.kind === 'StopMixMonitor' && e.id === m.id));
  }

  mixMonitors(): Extract<Effect, { kind: 'MixMonitor' }>[] {
    return this.effects.filter((e): e is Extract<Effect, { kind: 'MixMonitor' }> => e.kind === 'MixMonitor');
  }
}
