import { isIP } from 'node:net';
import { deployedConfigDir } from './render-cron.ts';
import { asteriskConfEscape, renderTemplate, UnsafeValueError } from './host-file-template.ts';
import type { GeneratedFile, RenderInput } from './render-host-files.ts';
import type { Settings } from './rule-set.ts';

/** Channel variables every channel event must carry (cross-part contract; MixMonitor events name no file). */
export const CHANNEL_VARS = [
  'MITSCHNITT_DECISION',
  'MITSCHNITT_RULE',
  'MITSCHNITT_MANUAL',
  'MITSCHNITT_CALLER',
  'MITSCHNITT_CALLEE',
  'MITSCHNITT_ORIGIN',
  'MITSCHNITT_DIRECTION',
  'MITSCHNITT_FILE',
  'MITSCHNITT_MIXMON_ID',
  'MDC_MON_MODE',
] as const;

/**
 * Least privilege, from the classes Asterisk registers (main/manager.c, apps/app_mixmonitor.c):
 * read  call     Newchannel, Newstate, Hangup, Dial*, Bridge*, MixMonitorStart/Stop/Mute, Blind/AttendedTransfer
 *       dialplan VarSet (and Newexten)
 *       user     UserEvent: the one-touch DTMF feature (features_mitschnitt.conf) reports through it
 * write call     Getvar, Setvar, Status, StopMixMonitor, MixMonitorMute
 *       system   the MixMonitor action is registered with EVENT_FLAG_SYSTEM only, so no narrower class can start
 *                a recording; the account is therefore loopback-only and its secret readable by root and asterisk.
 * Not granted: command (CLI), originate, config, agent, reporting, cdr, security.
 */
export const AMI_READ = 'call,dialplan,user';

/**
 * The only events Asterisk sends the runtime's account (advanced `eventfilter`, matched by name hash in
 * main/manager.c before any text is compared): what runtime/call-tracker.ts reads. Under load the rest of those
 * classes is two thirds of the traffic (DeviceStateChange, Newexten, LocalBridge, Dial/Hangup requests, the
 * dialplan's own VarSets…) that Asterisk formats and the runtime parses for nothing. Action responses
 * (CoreShowChannels at resync) are not events and pass regardless.
 */
export const AMI_EVENTS = [
  'Newchannel', 'Newstate', 'NewCallerid', 'NewConnectedLine', 'DialBegin', 'BridgeEnter', 'BridgeLeave', 'Hangup',
  'MixMonitorStart', 'MixMonitorStop', 'MixMonitorMute', 'UserEvent',
] as const;

/** Of the VarSet events, those of the variables the runtime keeps (any inheritance prefix). */
export const AMI_VARSET_PATTERN = '^_{0,2}(MITSCHNITT_.*|MDC_MON_MODE|MIXMONITOR_FILENAME)$';
export const AMI_WRITE = 'call,system';

/**
 * The host-local file holding the AMI user's `secret = …` line, next to the runtime's secret file
 * (`<secretsDir>/<ami.secret>`). Secret names have no '.', so this name never collides with a secret.
 * Deploy writes it from the secret (see amiSecretInclude); it is never in git or out/.
 */
export function amiSecretIncludePath(settings: Settings): string {
  return `${settings.secretsDir.replace(/\/+$/, '')}/${settings.ami.secret}.manager.conf`;
}

/** The content of amiSecretIncludePath for a secret: refuses anything that would end or comment the line. */
export function amiSecretInclude(secret: string): string {
  if (!/^[A-Za-z0-9+/=_.-]{16,128}$/.test(secret)) {
    throw new UnsafeValueError('AMI secret must be 16-128 characters of A-Z a-z 0-9 + / = _ . - (no spaces, no ;)');
  }
  return `secret = ${secret}\n`;
}

/** ACL lines: IPv4 and IPv6 (an IPv6 rule also matches v4-mapped addresses), then loopback, then ami.host if it is another IP. */
function permits(amiHost: string): string[] {
  const lines = ['127.0.0.1/255.255.255.255', '::1/128'];
  const family = isIP(amiHost);
  if (family === 4 && !amiHost.startsWith('127.')) lines.push(`${amiHost}/255.255.255.255`);
  if (family === 6 && amiHost !== '::1') lines.push(`${amiHost}/128`);
  return lines;
}

/** asterisk/manager_mitschnitt.conf: channelvars appended to [general], and the runtime's AMI user. */
export function renderManager({ policy, host }: RenderInput): GeneratedFile[] {
  const { settings } = policy;
  if (!/^[a-z][a-z0-9-]*$/.test(settings.ami.user) || settings.ami.user === 'general') {
    throw new UnsafeValueError(`AMI user ${JSON.stringify(settings.ami.user)} cannot be a manager.conf section name`);
  }
  const view = {
    host: host.name,
    configDir: deployedConfigDir(host.dir),
    channelVars: CHANNEL_VARS.join(','),
    user: settings.ami.user,
    secretInclude: amiSecretIncludePath(settings),
    read: AMI_READ,
    write: AMI_WRITE,
    events: AMI_EVENTS,
    varSetPattern: AMI_VARSET_PATTERN,
    permits: permits(settings.ami.host),
  };
  return [{ path: 'asterisk/manager_mitschnitt.conf', content: renderTemplate('manager', view, asteriskConfEscape) }];
}
