import type { Finding, FindingKind, VerifyReport } from './integrity-verify.ts';

/**
 * The verification report as a person reads it (German and English in one text file): for the admin's mail and
 * for an export handed to a court or an auditor. Plain text, so it can be printed, signed and diffed.
 */
const KIND_TEXT: Record<FindingKind, [de: string, en: string]> = {
  'missing-audio': ['Audiodatei fehlt', 'audio file missing'],
  'altered-audio': ['Audiodatei verändert', 'audio file altered'],
  'unjournaled-audio': ['Audiodatei ohne Journal', 'audio file without journal'],
  'altered-journal': ['Journal verändert', 'journal altered'],
  'missing-journal': ['Journal fehlt (ohne Löschprotokoll)', 'journal missing (not in the deletion log)'],
  'unreadable-journal': ['Journal unlesbar', 'journal unreadable'],
  'chain-broken': ['Hash-Kette unterbrochen', 'hash chain broken'],
  'chain-fork': ['Hash-Kette verzweigt', 'hash chain forks'],
  'chain-head': ['Kettenkopf falsch', 'chain head wrong'],
  'extra-file': ['Fremde Datei', 'extra file'],
};

function findingLine(f: Finding): string {
  const [de, en] = KIND_TEXT[f.kind];
  return `  - ${de} / ${en}: ${f.path}\n    ${f.detail}`;
}

export function renderVerifyReport(report: VerifyReport, host: string): string {
  const ok = report.findings.length === 0;
  const lines = [
    `mitschnitt — Prüfbericht / verification report`,
    `Host: ${host}`,
    `Geprüft am / checked at: ${report.checkedAt}`,
    `Umfang / scope: ${report.since ? `Aufnahmen ab / recordings from ${report.since}` : 'alle Aufnahmen / all recordings'}; Hash-Kette vollständig / whole hash chain`,
    `Aufnahmen geprüft / recordings checked: ${report.recordingsChecked} (${report.audioBytes} bytes SHA-256)`,
    `Journale / journals: ${report.journals}`,
    `Kettenkopf / chain head: ${report.head ? `${report.head.hash} ${report.head.journal}` : '-'}`,
    '',
    ok
      ? 'Ergebnis: Alle Aufnahmen vollständig und unverändert, die Hash-Kette ist geschlossen.\nResult: every recording complete and unaltered, the hash chain is intact.'
      : `Ergebnis: ${report.findings.length} Befund(e). / Result: ${report.findings.length} finding(s).`,
    ...report.findings.map(findingLine),
    '',
  ];
  return lines.join('\n');
}

/** How a third party re-checks an export with standard tools (part of every export's VERIFY.txt). */
export const THIRD_PARTY_PROCEDURE = `So prüfen Sie diesen Export selbst / How to check this export yourself
(GNU coreutils sha256sum; jq optional)

1. Dateien unverändert? / Files unaltered?
     sha256sum -c SHA256SUMS
   Jede Zeile muss "OK" melden. Die Prüfsummen der Audiodateien in SHA256SUMS sind die, die das System beim
   Ende des Gesprächs ins Journal schrieb ("sha256").
   Every line must say "OK". The audio checksums in SHA256SUMS are those the system wrote into the journal
   ("sha256") when the call ended.

2. Stimmen die Audiodateien mit ihren Journalen überein (unabhängig von SHA256SUMS)?
   Do the audio files match their journals (independently of SHA256SUMS)?
     jq -r '.sha256 + "  recordings/" + .audio' recordings/*.json | sha256sum -c
   ohne jq / without jq: sha256sum recordings/<id>.wav and compare with the line "sha256" in recordings/<id>.json.

3. Gehören die Journale zur Hash-Kette der Anlage? / Do the journals belong to the PBX's hash chain?
     sha256sum recordings/*.json
   Jede Prüfsumme steht in CHAIN.txt; dort steht auch, welches spätere Journal auf der Anlage sie als
   "previousHash" nennt. Der Betreiber kann das spätere Journal auf der Anlage vorzeigen
   (grep <Prüfsumme> <spool>/JJJJ/MM/TT/<id>.json) oder "mitschnitt verify" ausführen.
   Each checksum is listed in CHAIN.txt, with the later journal on the PBX that names it as its
   "previousHash". The operator can show that journal on the PBX or run "mitschnitt verify".
`;
