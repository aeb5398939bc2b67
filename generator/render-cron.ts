import { cronProblem } from './check-schedules.ts';
import { cronEscape, renderTemplate, UnsafeValueError } from './host-file-template.ts';
import type { GeneratedFile, RenderInput } from './render-host-files.ts';

/** The system user the runtime commands run as (created on the PBX by deploy). */
export const RUNTIME_USER = 'mitschnitt';

/** Where a host keeps the deployed copy of out/<host>/ (the `--config` of every runtime command). */
export function deployedConfigDir(hostDir: string): string {
  return `${hostDir.replace(/\/+$/, '')}/current`;
}

/**
 * A schedule goes into a crontab line verbatim, so the renderer checks it again although the schema and
 * `validate` already did: exactly five fields of cron syntax, nothing that could end the line or
 * (as '%' does in crontab) turn the rest of it into stdin.
 */
export function checkedSchedule(name: string, expression: string): string {
  const problem = /[\r\n%]/.test(expression) ? 'contains a newline or %' : cronProblem(expression);
  if (problem) throw new UnsafeValueError(`${name} ${JSON.stringify(expression)} ${problem}`);
  return expression;
}

/** cron/mitschnitt in /etc/cron.d format: the delivery batch, the retention sweep and the integrity check. */
export function renderCron({ policy, host }: RenderInput): GeneratedFile[] {
  const view = {
    host: host.name,
    user: RUNTIME_USER,
    config: deployedConfigDir(host.dir),
    deliverySchedule: checkedSchedule('deliverySchedule', policy.settings.deliverySchedule),
    retentionSchedule: checkedSchedule('retentionSchedule', policy.settings.retentionSchedule),
    verifySchedule: checkedSchedule('verifySchedule', policy.settings.verifySchedule ?? '15 4 * * *'),
    // A fixed flag, never text from the rules: whether verify mails its findings to adminEmail.
    mail: Boolean(policy.settings.adminEmail?.length && policy.settings.smtp),
  };
  return [{ path: 'cron/mitschnitt', content: renderTemplate('cron', view, cronEscape) }];
}
