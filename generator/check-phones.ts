import type { Report } from './report.ts';
import type { RuleSet } from './rule-set.ts';

/** SNOM Technology's IEEE OUI: every SNOM phone's MAC starts with it. */
const SNOM_OUI = '000413';

/** The form generated file names use: twelve lower-case hex digits ('snom/000413aabbcc.xml'). */
export function normalizeMac(mac: string): string {
  return mac.replace(/[:-]/g, '').toLowerCase();
}

/** A phone belongs to one user, and its MAC must be one a real phone can have. */
export function checkPhones(set: RuleSet, report: Report): void {
  const owners = new Map<string, string>();
  set.users.forEach((u, i) =>
    u.phones.forEach((p, j) => {
      const place = { file: 'users.json', path: ['users', i, 'phones', j, 'mac'] };
      const mac = normalizeMac(p.mac);
      const owner = owners.get(mac);
      if (owner !== undefined) {
        report.error(place, `MAC ${p.mac} is already ${owner === u.id ? 'listed for' : `${owner}'s phone, not`} ${u.id}`, 'A phone belongs to one user: remove the duplicate entry.');
        return;
      }
      owners.set(mac, u.id);
      // The group bit marks multicast/broadcast addresses; no device has one (nor all zeros) as its own.
      if ((parseInt(mac.slice(0, 2), 16) & 1) === 1 || mac === '000000000000') {
        report.error(place, `MAC ${p.mac} is a broadcast, multicast or empty address, not a phone's`, "Copy the MAC from the phone's label or its web interface (Status → Network).");
      } else if (!mac.startsWith(SNOM_OUI)) {
        report.warn(place, `MAC ${p.mac} is not a SNOM address (SNOM MACs start with 00:04:13)`, 'Provisioning files are written for SNOM phones; check the MAC if this is a SNOM phone.');
      }
    }),
  );
}
