import { asteriskConfEscape, renderTemplate, UnsafeValueError } from './host-file-template.ts';
import { deployedConfigDir } from './render-cron.ts';
import type { GeneratedFile, RenderInput } from './render-host-files.ts';

/** The dynamic feature's name: what DYNAMIC_FEATURES and PJSIP's record_on_feature/record_off_feature refer to. */
export const RECORD_FEATURE = 'mitschnitt-record';

/** The AMI UserEvent the feature raises on the channel that pressed it; the runtime toggles that call's recording. */
export const RECORD_USER_EVENT = 'MitschnittRecordKey';

/**
 * asterisk/features_mitschnitt.conf: one-touch recording by DTMF code or the phone's SIP INFO record button.
 *
 * Not features.conf's built-in `automixmon`: it records the PEER channel into the monitor directory as
 * `<TOUCH_MIXMONITOR_PREFIX|auto>-<epoch>-<name>.<fmt>` with every '/' turned into '-' (so no spool path, not
 * the contract's <spool>/<Y>/<M>/<D>/<UNIQUEID>-<EPOCH> name), without `i()` (no MixMonitor id for the runtime),
 * writes no journal, and its toggle stops ANY MixMonitor on the peer, including a rule's `auto` or a `force`
 * recording (bridges/bridge_builtin_features.c). Instead an [applicationmap] feature raises a UserEvent; the
 * runtime does what the SNOM key does (same naming, journal, rights check, deny/force respected).
 * The feature acts only on channels whose DYNAMIC_FEATURES name it, which the admin's dialplan sets only
 * where MITSCHNITT_MANUAL is 1 (README "On the PBX").
 */
export function renderFeatures({ policy, host }: RenderInput): GeneratedFile[] {
  const code = policy.settings.recordKey.featureCode;
  if (!/^[0-9*#]{1,6}$/.test(code)) throw new UnsafeValueError(`recordKey.featureCode ${JSON.stringify(code)} is not 1-6 of 0-9 * #`);
  const manualUsers = Object.values(policy.users).filter((u) => u.host === host.name && u.mayRecordManually).length;
  const view = {
    host: host.name,
    configDir: deployedConfigDir(host.dir),
    enabled: manualUsers > 0,
    feature: RECORD_FEATURE,
    code,
    event: RECORD_USER_EVENT,
  };
  return [{ path: 'asterisk/features_mitschnitt.conf', content: renderTemplate('features', view, asteriskConfEscape) }];
}
