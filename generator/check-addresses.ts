import { isIPv6 } from 'node:net';
import type { Place, Report } from './report.ts';
import type { RuleSet } from './rule-set.ts';

/** Why a host that looks like an IP address is not one; undefined for a valid address or a host name. */
export function ipProblem(host: string): string | undefined {
  if (host.includes(':')) return isIPv6(host) ? undefined : `"${host}" is not a valid IPv6 address`;
  if (!/^[0-9.]+$/.test(host)) return undefined;
  const parts = host.split('.');
  if (parts.length !== 4) return `"${host}" looks like an IPv4 address but has ${parts.length} part${parts.length === 1 ? '' : 's'} instead of 4`;
  const bad = parts.find((p) => p === '' || Number(p) > 255 || (p.length > 1 && p.startsWith('0')));
  return bad === undefined ? undefined : `"${host}" is not an IPv4 address: "${bad}" is not a number from 0 to 255 (without leading zeros)`;
}

function portProblem(port: string): string | undefined {
  const n = Number(port);
  return n >= 1 && n <= 65535 ? undefined : `port ${port} is outside 1-65535`;
}

/** Numbers the schema's patterns cannot bound: IPv4 octets and ports inside address strings. */
export function checkAddresses(set: RuleSet, report: Report): void {
  const host = (value: string | undefined, place: Place) => {
    const problem = value === undefined ? undefined : ipProblem(value);
    if (problem) report.error(place, problem, 'Write a host name, an IPv4 address (four numbers from 0 to 255, e.g. 192.0.2.10) or an IPv6 address (e.g. 2001:db8::5).');
  };
  host(set.settings.ami.host, { file: 'settings.json', path: ['ami', 'host'] });
  host(set.settings.smtp?.host, { file: 'settings.json', path: ['smtp', 'host'] });
  set.hosts.forEach((h, i) => host(h.address, { file: 'hosts.json', path: ['hosts', i, 'address'] }));

  const listen = /^\[?(.*?)\]?:([0-9]+)$/.exec(set.settings.http.listen);
  const listenPlace = { file: 'settings.json', path: ['http', 'listen'] };
  if (listen) {
    if (listen[1] !== 'localhost') host(listen[1], listenPlace);
    const problem = portProblem(listen[2]!);
    if (problem) report.error(listenPlace, `http.listen "${set.settings.http.listen}": ${problem}`, "Write ADDRESS:PORT with a port from 1 to 65535, e.g. '0.0.0.0:8484'.");
  }

  set.hosts.forEach((h, i) => {
    if (h.url === undefined) return;
    const place = { file: 'hosts.json', path: ['hosts', i, 'url'] };
    const url = /^https?:\/\/(?:\[([^\]]+)\]|([^:/]+))(?::([0-9]+))?$/.exec(h.url);
    if (!url) return;
    host(url[1] ?? url[2], place);
    const problem = url[3] === undefined ? undefined : portProblem(url[3]);
    if (problem) report.error(place, `url "${h.url}": ${problem}`, "Write http://HOST:PORT with a port from 1 to 65535, e.g. 'http://pbx.example.com:8484'.");
  });
}
