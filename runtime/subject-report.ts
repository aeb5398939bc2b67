import type { ErasureOutcome } from './subject-erase.ts';
import type { ExportedRecording } from './subject-export.ts';
import type { SubjectMatch, SubjectResult } from './subject-request.ts';

/**
 * The report a data-protection officer hands over or files: what was asked, what was found, what was done, in
 * German and English, as one self-contained HTML file (no script, no external resource; prints as is). Every
 * value from a journal or the command line is escaped.
 */
export interface ReportInput {
  host: string;
  createdAt: Date;
  by: string;
  result: SubjectResult;
  range: { from?: number; to?: number };
  exported?: { dir: string; recordings: ExportedRecording[] };
  erasure?: ErasureOutcome & { reason: string; includeHeld: boolean };
}

export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const berlin = (ms: number) => new Date(ms).toLocaleString('de-DE', { dateStyle: 'medium', timeStyle: 'medium' });
const duration = (s: number) => `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, '0')}`;
const party = (p: { number?: string; name?: string } | undefined) => (p ? `${p.number ?? ''}${p.name ? ` (${p.name})` : ''}` : '');

function done(m: SubjectMatch, input: ReportInput): string {
  const out: string[] = [];
  if (input.exported?.recordings.some((r) => r.id === m.id)) out.push('exportiert / exported');
  if (input.erasure?.erased.includes(m.id)) out.push('gelöscht / erased');
  const held = input.erasure?.keptHeld.find((k) => k.id === m.id);
  if (held) out.push(`wegen Aufbewahrungssperre behalten / kept under legal hold ${held.holds.join(', ')}`);
  return out.join('; ') || 'nur aufgelistet / listed only';
}

function row(m: SubjectMatch, input: ReportInput): string {
  const j = m.journal;
  const others = (Array.isArray(j.participants) ? j.participants : []).filter((p) => p.number !== j.caller?.number && p.number !== j.callee?.number);
  const exported = input.exported?.recordings.find((r) => r.id === m.id);
  const check = exported ? (exported.audio === null ? 'Audio fehlt / audio missing' : exported.audioMatchesJournal ? 'SHA-256 OK' : 'SHA-256 ≠ Journal (verändert / altered)') : '';
  const cells = [
    `${escapeHtml(berlin(Date.parse(j.start)))}<br><small>${escapeHtml(j.start)}</small>`,
    escapeHtml(duration(Number(j.durationSeconds) || 0)),
    `${escapeHtml(j.direction)} / ${escapeHtml(j.origin)}`,
    escapeHtml(party(j.caller)),
    escapeHtml(party(j.callee)),
    escapeHtml(others.map(party).join(', ')),
    escapeHtml(m.matchedAs.join('; ')),
    escapeHtml(j.rule ?? j.decision),
    escapeHtml(m.otherParts.join(', ')),
    escapeHtml(m.holds.join(', ')),
    escapeHtml(m.deliveredTo.join('; ')),
    `<code>${escapeHtml(m.id)}</code><br><small>SHA-256 ${escapeHtml(j.sha256)}</small>${check ? `<br>${escapeHtml(check)}` : ''}`,
    escapeHtml(done(m, input)),
  ];
  return `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
}

export function renderSubjectReport(input: ReportInput): string {
  const { result } = input;
  const q = result.query;
  const total = result.matches.reduce((n, m) => n + (Number(m.journal.durationSeconds) || 0), 0);
  const delivered = result.matches.filter((m) => m.deliveredTo.length > 0);
  const facts: [string, string][] = [
    ['Anlage / PBX', input.host],
    ['Erstellt / created', `${berlin(input.createdAt.getTime())} (${input.createdAt.toISOString()})`],
    ['Durch / by', input.by],
    ['Gesucht / searched for', [...q.numbers.map((n) => `Rufnummer / number ${n}`), ...q.users.map((u) => `Benutzer / user ${u}`)].join(', ')],
    ['Zeitraum / period', `${input.range.from !== undefined ? berlin(input.range.from) : 'Beginn / beginning'} – ${input.range.to !== undefined ? berlin(input.range.to) : 'heute / today'}`],
    ['Gefunden / found', `${result.matches.length} Aufnahme(n) / recording(s), ${duration(total)} min`],
  ];
  if (input.exported) facts.push(['Exportiert / exported', `${input.exported.recordings.length} → ${input.exported.dir}`]);
  if (input.erasure) {
    facts.push(['Gelöscht / erased', String(input.erasure.erased.length)]);
    facts.push(['Grund der Löschung / reason for erasure', input.erasure.reason]);
    facts.push(['Wegen Aufbewahrungssperre behalten / kept under legal hold', String(input.erasure.keptHeld.length)]);
  }
  const caveats: string[] = [];
  if (result.unreadable.length) caveats.push(`${result.unreadable.length} Journal(e) unlesbar, dort kann die Auskunft unvollständig sein / unreadable journal(s), the answer may be incomplete there: ${result.unreadable.map((u) => `${u.path} (${u.error})`).join('; ')}`);
  if (result.unjournaled.length) caveats.push(`${result.unjournaled.length} Audiodatei(en) ohne Journal im Zeitraum, Beteiligte unbekannt / audio file(s) without journal in the period, parties unknown: ${result.unjournaled.join(', ')}`);
  if (delivered.length) caveats.push(`${delivered.length} Aufnahme(n) wurden vorher zugestellt (siehe Spalte „Kopien“); diese Kopien liegen außerhalb der Anlage und sind gesondert zu behandeln / recording(s) were delivered before (see column "copies"); those copies lie outside the PBX and must be handled separately.`);
  if (input.erasure?.problems.length) caveats.push(`Nicht löschbar / could not delete: ${input.erasure.problems.map((p) => `${p.path}: ${p.error}`).join('; ')}`);
  if (input.erasure) caveats.push('Jede Löschung steht mit Grund und Zeit im Löschprotokoll der Anlage (.mitschnitt/deletions.log, reason "subject-request"). / Every erasure is in the PBX deletion log with reason and time.');
  const head = ['Beginn / start', 'Dauer / duration', 'Richtung / direction', 'Anrufer / caller', 'Angerufen / callee', 'Weitere / others', 'Gefunden als / found as', 'Regel / rule', 'Weitere Teile / other parts', 'Sperren / holds', 'Kopien / copies', 'Aufnahme / recording', 'Ergebnis / done'];
  return `<!doctype html>
<html lang="de">
<head>
<meta charset="utf-8">
<title>Auskunft nach Art. 15 / 17 DSGVO – data-subject request</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#111}
table{border-collapse:collapse;width:100%;font-size:12px}
th,td{border:1px solid #999;padding:4px;vertical-align:top;text-align:left}
th{background:#eee}
dt{font-weight:bold;float:left;clear:left;width:22em}
dd{margin-left:23em}
code{word-break:break-all}
</style>
</head>
<body>
<h1>Auskunft / Löschung nach DSGVO<br><small>Data-subject request report (GDPR Art. 15 / 17)</small></h1>
<dl>
${facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('\n')}
</dl>
<h2>Aufnahmen / recordings</h2>
${result.matches.length === 0 ? '<p>Keine Aufnahmen gefunden. / No recordings found.</p>' : `<table>
<thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>
<tbody>
${result.matches.map((m) => row(m, input)).join('\n')}
</tbody>
</table>`}
<h2>Hinweise / notes</h2>
<ul>
${(caveats.length ? caveats : ['Keine. / None.']).map((c) => `<li>${escapeHtml(c)}</li>`).join('\n')}
</ul>
${input.exported ? '<p>Prüfung der exportierten Dateien: siehe VERIFY.txt (sha256sum -c SHA256SUMS). / To check the exported files: see VERIFY.txt.</p>' : ''}
</body>
</html>
`;
}
