import nodemailer from 'nodemailer';
import type { Policy } from '../generator/policy.ts';
import { readSecret } from './delivery-config.ts';
import { smtpOptions } from './deliver-email.ts';

/**
 * Mails the admin (`settings.adminEmail`) a verification report with findings, through the same SMTP settings
 * as the delivery mails. The report text is the whole body: no recording is attached.
 */
export async function mailVerifyFindings(policy: Policy, report: string, findings: number, secretsDir?: string): Promise<string[]> {
  const smtp = policy.settings.smtp;
  const to = policy.settings.adminEmail ?? [];
  if (!smtp || to.length === 0) throw new Error('settings.adminEmail and settings.smtp are needed to mail findings');
  const password = smtp.password ? await readSecret(secretsDir ?? policy.settings.secretsDir, smtp.password) : undefined;
  const transport = nodemailer.createTransport(smtpOptions(smtp, password, 60_000));
  try {
    const subject = smtp.language === 'en'
      ? `mitschnitt ${policy.host}: verification found ${findings} problem(s)`
      : `mitschnitt ${policy.host}: Prüfung ergab ${findings} Befund(e)`;
    await transport.sendMail({ from: smtp.from, to, subject, text: report });
    return to;
  } finally {
    transport.close();
  }
}
