import { normalizeMac } from './check-phones.ts';
import { renderTemplate, UnsafeValueError, xmlEscape } from './host-file-template.ts';
import type { GeneratedFile, RenderInput } from './render-host-files.ts';
import type { Host, Settings } from './rule-set.ts';

/**
 * SNOM 3xx desk phones (300, 320, 360, 370) have a hardware Record key, provisioned through the
 * `dkey_record` setting (factory value `keyevent F_REC`, which sends a SIP INFO "Record: on|off").
 * The D-series (D3xx, D7xx) have no such key and only get the function key.
 */
const HARDWARE_RECORD_KEY = /^3[0-9]{2}$/;
const FACTORY_RECORD_KEY = 'keyevent F_REC';

/** The base URL phones use to reach this host's runtime: hosts.json `url`, else http://<address>:<listen port>. */
export function runtimeBaseUrl(host: Host, settings: Settings): string {
  if (host.url) return host.url.replace(/\/+$/, '');
  const port = settings.http.listen.slice(settings.http.listen.lastIndexOf(':') + 1);
  const address = host.address.includes(':') ? `[${host.address}]` : host.address;
  return `http://${address}:${port}`;
}

/**
 * The action URL of the record key. `$mac` and `$call-id` are SNOM action-URL variables the phone fills in
 * when the key is pressed; the runtime toggles recording of that call (see runtime/ `/snom/record`).
 */
export function recordKeyUrl(host: Host, settings: Settings): string {
  const base = runtimeBaseUrl(host, settings);
  // hosts.json patterns already forbid these; a URL with them would break the key or the XML around it.
  if (!/^https?:\/\/[A-Za-z0-9.:[\]-]+$/.test(base)) throw new UnsafeValueError(`runtime URL ${JSON.stringify(base)} is not a plain http(s)://host[:port]`);
  return `${base}/snom/record?mac=$mac&callid=$call-id`;
}

interface KeyView {
  index: number;
  label: string;
  value: string;
  perm: string;
  hardwareKey?: { value: string; perm: string };
}

/**
 * Phones of users who may record manually get the key, owned by provisioning (perm "R": the user cannot
 * change it). Every other phone gets a file that clears the same key index (type `none`) and gives the
 * hardware key back its factory function, with perm "RW" so the user may use the key for something else
 * until the next provisioning: a phone whose user lost the right thus loses the key, which a missing file
 * would not do.
 */
function keyView(settings: Settings, model: string, url: string | null): KeyView {
  const hardware = HARDWARE_RECORD_KEY.test(model);
  const { index, label } = settings.recordKey;
  if (url === null) {
    return { index, label: '', value: 'none', perm: 'RW', ...(hardware ? { hardwareKey: { value: FACTORY_RECORD_KEY, perm: 'RW' } } : {}) };
  }
  return { index, label, value: `url ${url}`, perm: 'R', ...(hardware ? { hardwareKey: { value: `url ${url}`, perm: 'R' } } : {}) };
}

// XML comments in the templates carry no ids or names: a '--' in them would end the comment.

/** snom/<mac>.xml for every phone of a user on this host, and snom/generic.xml for central provisioning. */
export function renderSnom({ policy, host }: RenderInput): GeneratedFile[] {
  const url = recordKeyUrl(host, policy.settings);
  const phones = Object.values(policy.users)
    .filter((user) => user.host === host.name)
    .flatMap((user) => user.phones.map((phone) => ({ user, phone, mac: normalizeMac(phone.mac) })))
    .sort((a, b) => a.mac.localeCompare(b.mac));

  const files: GeneratedFile[] = phones.map(({ user, phone, mac }) => {
    // The model lands in an XML comment, where xmlEscape cannot help ('--'); the schema allows only letters and digits.
    if (!/^[A-Za-z0-9]+$/.test(phone.model)) throw new UnsafeValueError(`phone model ${JSON.stringify(phone.model)} of ${user.id} is not letters and digits`);
    if (!/^[0-9a-f]{12}$/.test(mac)) throw new UnsafeValueError(`phone MAC ${JSON.stringify(phone.mac)} of ${user.id} is not 12 hex digits`);
    const key = keyView(policy.settings, phone.model, user.mayRecordManually ? url : null);
    return {
      path: `snom/${mac}.xml`,
      content: renderTemplate('snom-phone.xml', { model: phone.model, granted: user.mayRecordManually, ...key }, xmlEscape),
    };
  });
  files.push({
    path: 'snom/generic.xml',
    content: renderTemplate('snom-generic.xml', { ...keyView(policy.settings, '', url) }, xmlEscape),
  });
  return files;
}
