// Test helper: loads Asterisk .conf files the way main/config.c does, and checks ACLs the way main/acl.c does,
// so the generated manager/features snippets are judged by Asterisk's rules, not by string matching.
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { isAbsolute, join } from 'node:path';

export interface Variable { name: string; value: string; object: boolean }
export interface Category { name: string; variables: Variable[] }
export type Config = Category[];

export class ConfigError extends Error {}

/**
 * ast_config_load semantics that matter here: ';' starts a comment unless escaped as '\;'; '[name]' opens a
 * category, '[name](+)' appends to the first existing one (an error if there is none); '#include' of a missing
 * file fails the whole load, '#tryinclude' skips it; an included file continues the includer's current
 * category, and after the include the includer continues its own; 'a = b' / 'a => b' outside a category fail.
 */
export function loadConfig(file: string, confDir: string, config: Config = [], startCategory: Category | null = null): Config {
  let current = startCategory;
  const lines = readFileSync(file, 'utf8').split('\n');
  for (const [i, raw] of lines.entries()) {
    const where = `${file}:${i + 1}`;
    if (raw.includes(';--')) throw new ConfigError(`${where}: block comments are not modelled by this helper`);
    const line = stripComment(raw).trim();
    if (line === '') continue;
    if (line.startsWith('[')) {
      const m = /^\[([^\]]+)\](?:\(([^)]*)\))?$/.exec(line);
      if (!m) throw new ConfigError(`${where}: parse error in category line ${JSON.stringify(line)}`);
      const options = m[2] === undefined ? [] : m[2].split(',');
      if (options.some((o) => o !== '+')) throw new ConfigError(`${where}: category options other than (+) are not modelled`);
      if (options.includes('+')) {
        const existing = config.find((c) => c.name === m[1]);
        if (!existing) throw new ConfigError(`${where}: Category addition requested, but category '${m[1]}' does not exist`);
        current = existing;
      } else {
        current = { name: m[1]!, variables: [] };
        config.push(current);
      }
    } else if (line.startsWith('#')) {
      const m = /^#(include|tryinclude)\s+(?:"([^"]*)"|<([^>]*)>|(\S+))$/.exec(line);
      if (!m) throw new ConfigError(`${where}: unknown directive ${JSON.stringify(line)}`);
      const target = m[2] ?? m[3] ?? m[4]!;
      const path = isAbsolute(target) ? target : join(confDir, target);
      if (!existsSync(path)) {
        if (m[1] === 'include') throw new ConfigError(`The file '${target}' was listed as a #include but it does not exist.`);
        continue;
      }
      loadConfig(path, confDir, config, current);
    } else {
      if (!current) throw new ConfigError(`${where}: parse error: No category context for line`);
      const eq = line.indexOf('=');
      if (eq <= 0) throw new ConfigError(`${where}: No '=' (equal sign) in line`);
      const object = line[eq + 1] === '>';
      current.variables.push({ name: line.slice(0, eq).trim(), value: line.slice(eq + (object ? 2 : 1)).trim(), object });
    }
  }
  return config;
}

function stripComment(line: string): string {
  let out = '';
  for (let i = 0; i < line.length; i++) {
    if (line[i] === ';') {
      if (out.endsWith('\\')) out = `${out.slice(0, -1)};`;
      else break;
    } else out += line[i];
  }
  return out;
}

/** ast_variable_browse: the variables of the FIRST category of that name. */
export function browse(config: Config, category: string): Variable[] {
  return config.find((c) => c.name === category)?.variables ?? [];
}

/** ast_variable_retrieve: the first variable of that name in the first such category. */
export function retrieve(config: Config, category: string, name: string): string | undefined {
  return browse(config, category).find((v) => v.name.toLowerCase() === name.toLowerCase())?.value;
}

interface Rule { allow: boolean; v6: boolean; addr: bigint; mask: bigint }

function toBig(address: string): { v6: boolean; value: bigint } {
  if (isIP(address) === 4) return { v6: false, value: address.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n) };
  if (isIP(address) !== 6) throw new ConfigError(`not an IP address: ${address}`);
  const [head, tail = ''] = address.includes('::') ? address.split('::') : [address, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return { v6: true, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

function prefixMask(bits: number, width: number): bigint {
  return ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - bits)) - 1n);
}

/** ast_append_ha for 'permit'/'deny' values 'addr/netmask' or 'addr/prefix'. */
export function aclRules(variables: Variable[]): Rule[] {
  return variables
    .filter((v) => v.name === 'permit' || v.name === 'deny')
    .map((v) => {
      const [addr, mask] = v.value.split('/') as [string, string | undefined];
      const { v6, value } = toBig(addr);
      const width = v6 ? 128 : 32;
      const m = mask === undefined ? prefixMask(width, width) : mask.includes('.') || (v6 && mask.includes(':')) ? toBig(mask).value : prefixMask(Number(mask), width);
      return { allow: v.name === 'permit', v6, addr: value & m, mask: m };
    });
}

const V4_MAPPED = 0xffffn << 32n;

/** ast_apply_ha: default allow; every matching rule in order overrides; IPv6 rules see IPv4 peers as ::ffff:a.b.c.d. */
export function aclAllows(rules: Rule[], peer: string): boolean {
  const p = toBig(peer);
  let allowed = true;
  for (const rule of rules) {
    let value = p.value;
    if (!rule.v6 && p.v6) {
      if ((p.value >> 32n) !== 0xffffn) continue;
      value = p.value & 0xffffffffn;
    } else if (rule.v6 && !p.v6) {
      value = V4_MAPPED | p.value;
    }
    if ((value & rule.mask) === rule.addr) allowed = rule.allow;
  }
  return allowed;
}
