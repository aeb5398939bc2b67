import type { Host, Rule, Settings } from './rule-set.ts';

export type Direction = 'inbound' | 'outbound';
export type Origin = 'internal' | 'external';
export type Decision = 'auto' | 'manual' | 'none';

/** What happens for one number in one (direction, origin) cell, and the rule that decided it. */
export interface Cell {
  decision: Decision;
  /** Id of the deciding rule; absent for 'none'. */
  rule?: string;
  /** Other active rules that also cover this cell but lost (auto beats manual, then rules.json order); absent when none. */
  others?: string[];
}

/** One internal number (a user's or a team's extension). */
export interface PolicyNumber {
  kind: 'user' | 'team';
  /** Id of the user or team. */
  id: string;
  name: string;
  /** The host this number lives on; only numbers of the policy's own host carry decisions. */
  host: string;
  outbound: Record<Origin, Cell>;
  inbound: Record<Origin, Cell>;
}

export interface PolicyRule {
  id: string;
  name: string;
  mode: 'auto' | 'manual';
  /** The role the rule records, its name, and the cells it covers (for explanations); always written by resolve. */
  role?: string;
  roleName?: string;
  direction?: Direction | 'both';
  origin?: Origin | 'both';
  /** Days a recording is kept; for a rule in years, the longest it can be (see generator/retention.ts). */
  retentionDays: number;
  /** Kept this many years from the end of the calendar year of the call (commercial/tax law), instead of days. */
  retentionYears?: number;
  beep?: number;
  announcement?: string;
  deliver: { email?: string[]; script?: string };
}

export interface PolicyUser {
  id: string;
  name: string;
  ext: string;
  email?: string;
  host: string;
  phones: { mac: string; model: string; ip?: string }[];
  /** Whether any active manual rule (or a manual cell) covers this user on its host. */
  mayRecordManually: boolean;
  /** Ids of users whose recordings this user may see besides their own calls (from roles' canView). */
  canViewUsers: string[];
  /** Extensions of teams whose recordings this user may see (teams that are members of viewable roles). */
  canViewNumbers: string[];
}

/**
 * The flattened rules for one host: the only thing the dialplan renderer, `explain` and the runtime read.
 * Written as policy.json; key order is deterministic (numbers and ids sorted).
 */
export interface Policy {
  version: 1;
  host: Host['name'];
  settings: Settings;
  /** Every internal number of the company, keyed by extension. */
  numbers: Record<string, PolicyNumber>;
  rules: Record<Rule['id'], PolicyRule>;
  users: Record<string, PolicyUser>;
}
