import type { HostsFile, RolesFile, RulesFile, SettingsFile, TeamsFile, UsersFile } from './rule-files.generated.ts';

type Item<A> = A extends readonly (infer I)[] ? I : never;
type Defaulted<T, K extends keyof T> = Omit<T, K | '$schema'> & Required<Pick<T, K>>;

export type Phone = Item<NonNullable<Item<UsersFile['users']>['phones']>>;
export type User = Defaulted<Item<UsersFile['users']>, 'host' | 'phones'>;
export type Team = Defaulted<Item<TeamsFile['teams']>, 'host'>;
export type Role = Defaulted<Item<RolesFile['roles']>, 'canView'>;
export type Rule = Defaulted<Item<RulesFile['rules']>, 'active' | 'direction' | 'origin'>;
export type Host = Defaulted<Item<HostsFile['hosts']>, 'port' | 'user' | 'asteriskDir' | 'dir'>;
export type Smtp = Defaulted<NonNullable<SettingsFile['smtp']>, 'port' | 'security' | 'maxAttachmentMB' | 'language'>;
export type Settings = Required<Omit<SettingsFile, '$schema' | 'smtp' | 'http' | 'ami' | 'delivery' | 'recordKey' | 'adminEmail' | 'verifySchedule'>> & {
  smtp?: Smtp;
  adminEmail?: string[];
  /** Filled in by validate; absent in policies built by older versions. */
  verifySchedule?: string;
  http: Required<NonNullable<SettingsFile['http']>>;
  ami: Required<NonNullable<SettingsFile['ami']>>;
  delivery: Required<NonNullable<SettingsFile['delivery']>>;
  recordKey: Required<NonNullable<SettingsFile['recordKey']>>;
};

/** A validated rule set with every default filled in: what all later stages read. */
export interface RuleSet {
  /** Absolute path of the rules folder (scripts are relative to it). */
  dir: string;
  settings: Settings;
  hosts: Host[];
  users: User[];
  teams: Team[];
  roles: Role[];
  rules: Rule[];
}
