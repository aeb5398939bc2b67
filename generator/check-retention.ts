import type { Report } from './report.ts';
import type { RuleSet } from './rule-set.ts';
import { LONG_RETENTION_DAYS } from './retention.ts';

/**
 * A rule keeps recordings either some days or some years, not both. Recordings kept for years are proof of
 * contracts: warn when, besides the PBX's own disk, there is no other copy or only one that may not hold the audio
 * (e-mail does not attach files above smtp.maxAttachmentMB).
 */
export function checkRetention(set: RuleSet, report: Report): void {
  if (set.settings.adminEmail && !set.settings.smtp) {
    report.error({ file: 'settings.json', path: ['adminEmail'] }, 'adminEmail needs an SMTP server to mail verification findings', 'Add "smtp" (host, from) to settings.json.');
  }
  set.rules.forEach((r, i) => {
    const place = (...path: (string | number)[]) => ({ file: 'rules.json', path: ['rules', i, ...path] });
    const years = (r as { retentionYears?: number }).retentionYears;
    if (years !== undefined && r.retentionDays !== undefined) {
      report.error(place('retentionYears'), 'retentionDays and retentionYears both given', 'Keep one: days counted from the call, or years from the end of its calendar year.');
      return;
    }
    if (!r.active) return;
    const days = years !== undefined ? years * 365 : (r.retentionDays ?? set.settings.retentionDays);
    if (days <= LONG_RETENTION_DAYS) return;
    const kept = years !== undefined ? `${years} years` : `${days} days`;
    if (!r.deliver) {
      report.warn(place(), `rule "${r.id}" keeps recordings ${kept}, but only on the PBX: its spool disk is the only copy`,
        'Add "deliver": { "script": … } to put a second copy into an archive (or back up the spool), so one disk failure does not lose the proof.');
    } else if (!r.deliver.script && r.deliver.email) {
      const limit = set.settings.smtp?.maxAttachmentMB;
      report.warn(place('deliver'), `rule "${r.id}" keeps recordings ${kept}; its only other copy is e-mail, which does not attach recordings above ${limit ?? '?'} MB (about ${limit === undefined ? '?' : Math.floor(limit)} minutes of wav)`,
        'Add a delivery script to an archive, or make sure the mailbox keeps the mails as long and smtp.maxAttachmentMB covers the longest calls.');
    }
  });
}
