import { posix } from 'node:path';
import type { Host } from '../generator/rule-set.ts';
import type { RemoteSession } from './ssh-connection.ts';
import { quote } from './shell.ts';

/** The three admin files that pull in mitschnitt's generated files, each at its end (README: "On the PBX"). */
const INCLUDES = [
  { conf: 'extensions.conf', file: 'extensions_mitschnitt.conf' },
  { conf: 'manager.conf', file: 'manager_mitschnitt.conf' },
  { conf: 'features.conf', file: 'features_mitschnitt.conf' },
] as const;

/** The comment line above every #include bootstrap adds: it says who added it and how it goes again. */
export const INCLUDE_MARKER = '; mitschnitt: added by `mitschnitt deploy --bootstrap`; `mitschnitt deploy --uninstall` removes it';

function includeTarget(host: Host, file: string): string {
  return posix.join(host.dir, 'current', 'asterisk', file);
}

/**
 * Appends the missing `#include` lines (with the marker line above) to the end of extensions.conf, manager.conf and
 * features.conf. A file that already names its target in any form (an admin added it by hand) is left alone, and a
 * line is only added once its target exists: Asterisk refuses a whole file whose #include is missing.
 * Returns the config files that got a line.
 */
export async function addIncludes(session: RemoteSession, host: Host): Promise<string[]> {
  const lines = ['set -eu', `m=${quote(INCLUDE_MARKER)}`];
  for (const { conf, file } of INCLUDES) {
    const confPath = posix.join(host.asteriskDir, conf);
    const target = includeTarget(host, file);
    const f = quote(confPath);
    const t = quote(target);
    lines.push(
      `[ -f ${t} ] || { echo ${quote(`${file} is not deployed yet (${target})`)} >&2; exit 1; }`,
      `[ -f ${f} ] || { echo ${quote(`${confPath} does not exist: is Asterisk's configuration in ${host.asteriskDir} (hosts.json asteriskDir)?`)} >&2; exit 1; }`,
      `if ! grep -qF ${t} ${f}; then printf '\\n%s\\n#include "%s"\\n' "$m" ${t} >> ${f}; echo added ${quote(conf)}; fi`,
    );
  }
  const out = await session.run('adding the #include lines', lines.join('\n'));
  return out.split('\n').filter((l) => l.startsWith('added ')).map((l) => l.slice('added '.length));
}

/**
 * Removes every `#include`/`#tryinclude` of our targets (ours with their marker line and the blank line before it,
 * and any an admin added by hand) from the three files. The files are rewritten in place (`cat >`), so their owner
 * and mode stay. With `clearChannelvars`, manager.conf gets `[general](+) channelvars =` where the include was:
 * `manager reload` keeps a channelvars list that is merely deleted (FACTS), so it must be emptied once.
 * Returns the config files that changed.
 */
export async function removeIncludes(session: RemoteSession, host: Host, options: { clearChannelvars: boolean }): Promise<string[]> {
  const lines = ['set -eu', `m=${quote(INCLUDE_MARKER)}`];
  for (const { conf, file } of INCLUDES) {
    const f = quote(posix.join(host.asteriskDir, conf));
    const t = quote(includeTarget(host, file));
    const replacement = conf === 'manager.conf' && options.clearChannelvars ? CHANNELVARS_RESET : '';
    lines.push(
      `if [ -f ${f} ] && grep -qF ${t} ${f}; then`,
      // A blank line is held back until we know the next line is not our marker.
      `  awk -v t=${t} -v m="$m" -v r=${quote(replacement)} '` +
        `$0 == m { blank = 0; next } ` +
        `$0 ~ /^[ \\t]*#(try)?include/ && index($0, t) { if (r != "") print r; blank = 0; next } ` +
        `{ if (blank) print ""; blank = 0 } ` +
        `$0 == "" { blank = 1; next } { print } END { if (blank) print "" }' ${f} > ${f}.mitschnitt.$$`,
      `  cat ${f}.mitschnitt.$$ > ${f}; rm -f ${f}.mitschnitt.$$; echo removed ${quote(conf)}`,
      'fi',
    );
  }
  const out = await session.run('removing the #include lines', lines.join('\n'));
  return out.split('\n').filter((l) => l.startsWith('removed ')).map((l) => l.slice('removed '.length));
}

/** What stands in manager.conf for one `manager reload` during uninstall, then goes again. */
const CHANNELVARS_RESET = '; mitschnitt uninstall: empties channelvars once (a removed line would keep the old list)\n[general](+)\nchannelvars =';

/** Takes the temporary channelvars reset out of manager.conf again. */
export async function removeChannelvarsReset(session: RemoteSession, host: Host): Promise<boolean> {
  const f = quote(posix.join(host.asteriskDir, 'manager.conf'));
  const [comment, section, line] = CHANNELVARS_RESET.split('\n') as [string, string, string];
  const out = await session.run(
    'removing the channelvars reset',
    `if [ -f ${f} ] && grep -qxF ${quote(comment)} ${f}; then ` +
      `awk -v c=${quote(comment)} -v s=${quote(section)} -v l=${quote(line)} 'skip > 0 && ($0 == s || $0 == l) { skip--; next } $0 == c { skip = 2; next } { skip = 0; print }' ${f} > ${f}.mitschnitt.$$ && ` +
      `cat ${f}.mitschnitt.$$ > ${f} && rm -f ${f}.mitschnitt.$$ && echo removed; fi`,
  );
  return out.includes('removed');
}
