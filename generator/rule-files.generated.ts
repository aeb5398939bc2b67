// Generated from schema/ by `npm run types`. Do not edit.

/**
 * Company-wide settings. Every field has a default; passwords are never written here, only the names of secrets kept on the PBX.
 */
export interface SettingsFile {
$schema?: string
/**
 * Where recordings and their journals are stored on the PBX.
 */
spool?: string
/**
 * Audio format: 'wav' (8 kHz 16-bit, about 1 MB per minute) or 'wav49' (GSM in WAV, about 0.1 MB per minute).
 */
format?: ("wav" | "wav49")
/**
 * What happens to the part recorded before a caller objects (MDC_MON_MODE=deny while a recording runs): 'discard' deletes that audio and keeps a journal saying the caller objected (data minimisation: the caller withdrew consent); 'keep' keeps it with that note, for companies that must prove the moment of objection.
 */
objection?: ("discard" | "keep")
/**
 * Days a recording is kept before `mitschnitt expire` deletes it. A rule may set its own.
 */
retentionDays?: number
/**
 * When `mitschnitt deliver` sends finished recordings (cron). Default: daily at 20:00.
 */
deliverySchedule?: string
/**
 * When `mitschnitt expire` deletes expired recordings (cron). Default: daily at 03:30.
 */
retentionSchedule?: string
/**
 * When `mitschnitt verify` checks every recording's SHA-256 and the journals' hash chain (cron); findings are mailed to adminEmail. Default: daily at 04:15.
 */
verifySchedule?: string
/**
 * Who gets the mail when the daily verification finds a missing, altered or extra file (needs "smtp").
 * 
 * @minItems 1
 * 
 * Items: An e-mail address like anna.berger@example.com: letters, digits and . _ + - before the @ (not starting with . or -), a domain name after it.
 */
adminEmail?: [string, ...(string)[]]
/**
 * Directory on the PBX holding one file per named secret.
 */
secretsDir?: string
/**
 * The runtime's web server (SNOM record key, web client).
 */
http?: {
/**
 * Address and port to listen on, e.g. '0.0.0.0:8484'.
 */
listen?: string
/**
 * Whether users reach the web client through HTTPS (a TLS proxy in front); makes the session cookie Secure.
 */
tls?: boolean
}
/**
 * How the runtime reaches the Asterisk Manager Interface.
 */
ami?: {
/**
 * A DNS host name (e.g. 'pbx.example.com'), an IPv4 address (e.g. '192.0.2.10') or an IPv6 address without brackets (e.g. '2001:db8::5').
 */
host?: string
/**
 * A TCP port, 1 to 65535.
 */
port?: number
/**
 * A short slug: lower-case letters, digits and '-', starting with a letter (e.g. 'sales', 'anna-berger').
 */
user?: string
/**
 * The name of a secret: a file of that name in the host's secrets directory, never in git.
 */
secret?: string
}
/**
 * Mail server for e-mail delivery. Needed as soon as a rule delivers by e-mail.
 */
smtp?: {
/**
 * A DNS host name (e.g. 'pbx.example.com'), an IPv4 address (e.g. '192.0.2.10') or an IPv6 address without brackets (e.g. '2001:db8::5').
 */
host: string
/**
 * A TCP port, 1 to 65535.
 */
port?: number
/**
 * 'starttls' (port 587), 'tls' (port 465) or 'none' (local relay).
 */
security?: ("starttls" | "tls" | "none")
/**
 * SMTP login name: letters, digits and . _ + @ - (often the sender address).
 */
user?: string
/**
 * Name of the secret holding the SMTP password.
 */
password?: string
/**
 * An e-mail address like anna.berger@example.com: letters, digits and . _ + - before the @ (not starting with . or -), a domain name after it.
 */
from: string
/**
 * Larger recordings are not attached; the mail says where the file is.
 */
maxAttachmentMB?: number
language?: ("de" | "en")
}
delivery?: {
/**
 * Failed deliveries are retried on later batches; after this many attempts they go to the dead-letter list.
 */
maxAttempts?: number
scriptTimeoutSeconds?: number
}
/**
 * The record key put on SNOM phones of users who may record manually.
 */
recordKey?: {
/**
 * Function key index (fkey idx).
 */
index?: number
/**
 * A human-readable name: any characters but control characters (newlines, tabs, escapes, Unicode line separators and direction overrides); escaped wherever it is used.
 */
label?: string
/**
 * DTMF code that toggles recording during a call (features.conf automixmon).
 */
featureCode?: string
}
}

/**
 * The PBX hosts the generated files are deployed to. The first host is the default home of users and teams.
 */
export interface HostsFile {
$schema?: string
/**
 * At least one host; the first is the default home of users and teams.
 * 
 * @minItems 1
 */
hosts: [{
/**
 * A short slug: lower-case letters, digits and '-', starting with a letter (e.g. 'sales', 'anna-berger').
 */
name: string
/**
 * A DNS host name (e.g. 'pbx.example.com'), an IPv4 address (e.g. '192.0.2.10') or an IPv6 address without brackets (e.g. '2001:db8::5').
 */
address: string
/**
 * A TCP port, 1 to 65535.
 */
port?: number
/**
 * SSH user for deploying. Any user but root deploys through `sudo -n` and needs the sudoers line from the README (Deploying without a root login).
 */
user?: string
/**
 * An absolute path without a trailing '/': segments of letters, digits, '_' and '-', with single dots inside a segment (no '..', no hidden names).
 */
asteriskDir?: string
/**
 * Where mitschnitt keeps its deployed files, backups and lock on the host.
 */
dir?: string
/**
 * SSH host key fingerprint as printed by `ssh-keygen -lf`, e.g. 'SHA256:…'.
 */
hostKey: string
/**
 * Base URL phones use to reach the runtime on this host: http(s)://HOST[:PORT], no path (e.g. 'https://pbx.example.com:8443'). Default: http://<address>:<listen port>.
 */
url?: string
}, ...({
/**
 * A short slug: lower-case letters, digits and '-', starting with a letter (e.g. 'sales', 'anna-berger').
 */
name: string
/**
 * A DNS host name (e.g. 'pbx.example.com'), an IPv4 address (e.g. '192.0.2.10') or an IPv6 address without brackets (e.g. '2001:db8::5').
 */
address: string
/**
 * A TCP port, 1 to 65535.
 */
port?: number
/**
 * SSH user for deploying. Any user but root deploys through `sudo -n` and needs the sudoers line from the README (Deploying without a root login).
 */
user?: string
/**
 * An absolute path without a trailing '/': segments of letters, digits, '_' and '-', with single dots inside a segment (no '..', no hidden names).
 */
asteriskDir?: string
/**
 * Where mitschnitt keeps its deployed files, backups and lock on the host.
 */
dir?: string
/**
 * SSH host key fingerprint as printed by `ssh-keygen -lf`, e.g. 'SHA256:…'.
 */
hostKey: string
/**
 * Base URL phones use to reach the runtime on this host: http(s)://HOST[:PORT], no path (e.g. 'https://pbx.example.com:8443'). Default: http://<address>:<listen port>.
 */
url?: string
})[]]
}

/**
 * The people on the PBX: their extension, e-mail and SNOM phones.
 */
export interface UsersFile {
$schema?: string
users: {
/**
 * A short slug: lower-case letters, digits and '-', starting with a letter (e.g. 'sales', 'anna-berger').
 */
id: string
/**
 * A human-readable name: any characters but control characters (newlines, tabs, escapes, Unicode line separators and direction overrides); escaped wherever it is used.
 */
name: string
/**
 * An internal extension: 1 to 15 digits.
 */
ext: string
/**
 * An e-mail address like anna.berger@example.com: letters, digits and . _ + - before the @ (not starting with . or -), a domain name after it.
 */
email?: string
/**
 * A short slug: lower-case letters, digits and '-', starting with a letter (e.g. 'sales', 'anna-berger').
 */
host?: string
phones?: {
/**
 * The phone's MAC address: six hex pairs separated all by ':' or all by '-', or twelve hex digits, e.g. '00:04:13:2a:3b:4c' or '0004132a3b4c'.
 */
mac: string
/**
 * SNOM model, e.g. 'D785', 'D735', '370'.
 */
model: string
/**
 * The phone's fixed IPv4 address (four numbers 0-255, e.g. '192.0.2.31'), if it has one: record-key requests are then accepted only from it.
 */
ip?: string
}[]
}[]
}

/**
 * Groups of users (and of other teams), optionally with an extension of their own (a ring group or queue).
 */
export interface TeamsFile {
$schema?: string
teams: {
/**
 * A short slug: lower-case letters, digits and '-', starting with a letter (e.g. 'sales', 'anna-berger').
 */
id: string
/**
 * A human-readable name: any characters but control characters (newlines, tabs, escapes, Unicode line separators and direction overrides); escaped wherever it is used.
 */
name: string
/**
 * An internal extension: 1 to 15 digits.
 */
ext?: string
/**
 * A short slug: lower-case letters, digits and '-', starting with a letter (e.g. 'sales', 'anna-berger').
 */
host?: string
/**
 * Ids of users or other teams, each once.
 * 
 * Items: A short slug: lower-case letters, digits and '-', starting with a letter (e.g. 'sales', 'anna-berger').
 */
members: string[]
}[]
}

/**
 * Roles group users and teams; rules record roles, and roles may see other roles' recordings.
 */
export interface RolesFile {
$schema?: string
roles: {
/**
 * A short slug: lower-case letters, digits and '-', starting with a letter (e.g. 'sales', 'anna-berger').
 */
id: string
/**
 * A human-readable name: any characters but control characters (newlines, tabs, escapes, Unicode line separators and direction overrides); escaped wherever it is used.
 */
name: string
/**
 * Ids of users and/or teams, each once.
 * 
 * Items: A short slug: lower-case letters, digits and '-', starting with a letter (e.g. 'sales', 'anna-berger').
 */
members: string[]
/**
 * Ids of roles whose members' recordings this role's members may see and play in the web client (everyone sees their own calls).
 * 
 * Items: A short slug: lower-case letters, digits and '-', starting with a letter (e.g. 'sales', 'anna-berger').
 */
canView?: string[]
}[]
}

/**
 * Who is recorded, when, and where finished recordings go besides staying on disk.
 */
export interface RulesFile {
$schema?: string
rules: {
/**
 * A short slug: lower-case letters, digits and '-', starting with a letter (e.g. 'sales', 'anna-berger').
 */
id: string
/**
 * A human-readable name: any characters but control characters (newlines, tabs, escapes, Unicode line separators and direction overrides); escaped wherever it is used.
 */
name: string
/**
 * Inactive rules are ignored.
 */
active?: boolean
/**
 * A short slug: lower-case letters, digits and '-', starting with a letter (e.g. 'sales', 'anna-berger').
 */
role: string
/**
 * 'auto': every matching call is recorded; 'manual': members may start and stop recording themselves.
 */
mode: ("auto" | "manual")
/**
 * 'outbound': calls the member makes; 'inbound': calls the member receives.
 */
direction?: ("inbound" | "outbound" | "both")
/**
 * 'internal': the other party is an internal extension; 'external': an outside number.
 */
origin?: ("internal" | "external" | "both")
/**
 * Play a beep every this many seconds while recording (MixMonitor B option).
 */
beep?: number
/**
 * Sound the admin's dialplan can play to the other party (exposed as MITSCHNITT_ANNOUNCE).
 */
announcement?: string
/**
 * Keep these recordings this many days instead of the default from settings.
 */
retentionDays?: number
/**
 * Keep these recordings this many years, counted from the end of the calendar year of the call (as commercial and tax law count, e.g. 6 or 10), instead of retentionDays.
 */
retentionYears?: number
/**
 * Where finished recordings go besides staying on disk: "email" and/or "script".
 */
deliver?: {
/**
 * Addresses the recording is mailed to (needs "smtp" in settings.json).
 * 
 * @minItems 1
 * 
 * Items: An e-mail address like anna.berger@example.com: letters, digits and . _ + - before the @ (not starting with . or -), a domain name after it.
 */
email?: [string, ...(string)[]]
/**
 * A bash script in the rules folder's scripts/ directory, called with $1 = audio file, $2 = journal.
 */
script?: string
}
}[]
}
