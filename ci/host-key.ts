import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** OpenSSH's fingerprint of a host key blob, as printed by `ssh-keygen -lf`: `SHA256:` + unpadded base64. */
export function fingerprint(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

/** Fingerprints compare without the optional trailing '=' the schema allows. */
function normalizeFingerprint(fp: string): string {
  return fp.replace(/=+$/, '');
}

export interface KnownHostsEntry {
  marker: '' | '@revoked' | '@cert-authority';
  patterns: string;
  keyBlob: Buffer;
}

/** Parses an OpenSSH known_hosts file; lines it cannot read are skipped, as ssh does. */
export function parseKnownHosts(text: string): KnownHostsEntry[] {
  const entries: KnownHostsEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0] === '@revoked' || fields[0] === '@cert-authority' ? fields.shift()! : '';
    const [patterns, , key] = fields;
    if (!patterns || !key || !/^[A-Za-z0-9+/]+={0,2}$/.test(key)) continue;
    entries.push({ marker: marker as KnownHostsEntry['marker'], patterns, keyBlob: Buffer.from(key, 'base64') });
  }
  return entries;
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

/** How ssh names a host in known_hosts: `name`, or `[name]:port` for a port other than 22. */
function knownHostsName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

/** Whether a known_hosts pattern list (comma-separated, `!` negation, `|1|salt|hash` hashed names) matches the host. */
function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) {
    const [, , salt, hash] = patterns.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  let matched = false;
  for (const pattern of patterns.split(',')) {
    const negated = pattern.startsWith('!');
    if (globToRegExp(negated ? pattern.slice(1) : pattern).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** Everything the deploy trusts for one host: the rules' fingerprint and, optionally, known_hosts entries. */
export interface HostTrust {
  address: string;
  port: number;
  /** `hosts[].hostKey` from the rules. */
  fingerprint: string;
  knownHosts?: KnownHostsEntry[];
}

export type HostKeyVerdict = { ok: true } | { ok: false; reason: string };

/** Decides whether a presented host key is trusted. Never trusts a key nobody vouched for. */
export function checkHostKey(trust: HostTrust, keyBlob: Buffer): HostKeyVerdict {
  const presented = fingerprint(keyBlob);
  const name = knownHostsName(trust.address, trust.port);
  const entries = (trust.knownHosts ?? []).filter((e) => patternsMatch(e.patterns, name));
  if (entries.some((e) => e.marker === '@revoked' && e.keyBlob.equals(keyBlob))) {
    return { ok: false, reason: `host key ${presented} of ${name} is marked @revoked in the known_hosts file` };
  }
  if (normalizeFingerprint(trust.fingerprint) === presented) return { ok: true };
  if (entries.some((e) => e.marker === '' && e.keyBlob.equals(keyBlob))) return { ok: true };
  const known = entries.filter((e) => e.marker === '').map((e) => fingerprint(e.keyBlob));
  return {
    ok: false,
    reason:
      `host key of ${name} is ${presented}, but hosts.json expects ${trust.fingerprint}` +
      (known.length ? ` and known_hosts lists ${known.join(', ')}` : '') +
      ': refusing to connect. If the host key really changed, check it on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and update hostKey in hosts.json.',
  };
}

export function readKnownHosts(file: string): KnownHostsEntry[] {
  return parseKnownHosts(readFileSync(file, 'utf8'));
}
