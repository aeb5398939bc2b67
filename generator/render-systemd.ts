import { renderTemplate, systemdEscape } from './host-file-template.ts';
import { deployedConfigDir, RUNTIME_USER } from './render-cron.ts';
import type { GeneratedFile, RenderInput } from './render-host-files.ts';

/** Asterisk's group on Debian: recordings in the spool belong to it. */
const ASTERISK_GROUP = 'asterisk';

/** systemd/mitschnitt.service: `mitschnitt serve`, sandboxed; it may write only to the spool. */
export function renderSystemd({ policy, host }: RenderInput): GeneratedFile[] {
  const { settings } = policy;
  const port = Number(settings.http.listen.slice(settings.http.listen.lastIndexOf(':') + 1));
  const view = {
    host: host.name,
    user: RUNTIME_USER,
    group: RUNTIME_USER,
    asteriskGroup: ASTERISK_GROUP,
    config: deployedConfigDir(host.dir),
    spool: settings.spool.replace(/\/+$/, ''),
    // Ports below 1024 need the one capability; everything else runs with none.
    privilegedPort: port < 1024,
  };
  return [{ path: 'systemd/mitschnitt.service', content: renderTemplate('systemd', view, systemdEscape) }];
}
