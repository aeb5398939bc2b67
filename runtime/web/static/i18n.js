// Every text of the page in German and English; elements name their text with data-i18n="key".
export const STRINGS = {
  de: {
    skip: 'Zum Inhalt', language: 'Sprache', logout: 'Abmelden', signIn: 'Anmelden', user: 'Benutzer', password: 'Passwort',
    badLogin: 'Benutzer oder Passwort falsch.', tooMany: 'Zu viele Fehlversuche. Bitte später erneut versuchen.',
    unavailable: 'Anmeldung zurzeit nicht möglich.', activeCalls: 'Aktuelle Gespräche', noCalls: 'Kein Gespräch.',
    journal: 'Journal', from: 'Von', to: 'Bis', number: 'Nummer', direction: 'Richtung', all: 'alle',
    inbound: 'eingehend', outbound: 'ausgehend', apply: 'Filtern', reset: 'Zurücksetzen', date: 'Datum', time: 'Uhrzeit',
    party: 'Gesprächspartner', duration: 'Dauer', recording: 'Aufnahme', rule: 'Regel', actions: 'Aktionen',
    empty: 'Keine Aufnahmen.', more: 'Weitere laden', newRecordings: 'Neue Aufnahmen – anzeigen', play: 'Abspielen',
    download: 'Herunterladen', playing: 'Wiedergabe:', rec: 'REC', auto: 'automatisch', force: 'erzwungen', manual: 'manuell',
    startRec: 'Aufnahme starten', stopRec: 'Aufnahme beenden', pause: 'Pause', resume: 'Fortsetzen',
    recording_on: 'Aufnahme läuft', recording_paused: 'Aufnahme pausiert', recording_off: 'keine Aufnahme',
    noManual: 'Manuelle Aufnahme nicht erlaubt', failed: 'Das hat nicht geklappt:', loadFailed: 'Laden fehlgeschlagen.',
    signedInAs: 'Angemeldet:', via: 'an',
    held: 'Löschsperre', heldTitle: 'Wird wegen einer rechtlichen Aufbewahrungspflicht nicht gelöscht.',
    objected: 'Widerspruch', objectedTitle: 'Der Anrufer hat der Aufnahme widersprochen:', objectedDiscardedTitle: 'Der Anrufer hat der Aufnahme widersprochen, die Aufnahme wurde verworfen:',
    verified: 'geprüft', verifiedTitle: 'Vollständig und unverändert, geprüft am', verifyFailed: 'Prüfung fehlgeschlagen',
    verifyFailedTitle: 'Bei der Prüfung verändert oder unvollständig gefunden am',
  },
  en: {
    skip: 'Skip to content', language: 'Language', logout: 'Sign out', signIn: 'Sign in', user: 'User', password: 'Password',
    badLogin: 'Wrong user or password.', tooMany: 'Too many failed attempts. Please try again later.',
    unavailable: 'Sign-in is not available right now.', activeCalls: 'Current calls', noCalls: 'No call.',
    journal: 'Journal', from: 'From', to: 'To', number: 'Number', direction: 'Direction', all: 'all',
    inbound: 'inbound', outbound: 'outbound', apply: 'Filter', reset: 'Reset', date: 'Date', time: 'Time',
    party: 'Other party', duration: 'Duration', recording: 'Recording', rule: 'Rule', actions: 'Actions',
    empty: 'No recordings.', more: 'Load more', newRecordings: 'New recordings – show', play: 'Play',
    download: 'Download', playing: 'Playing:', rec: 'REC', auto: 'automatic', force: 'forced', manual: 'manual',
    startRec: 'Start recording', stopRec: 'Stop recording', pause: 'Pause', resume: 'Resume',
    recording_on: 'Recording', recording_paused: 'Recording paused', recording_off: 'Not recording',
    noManual: 'Manual recording not allowed', failed: 'That did not work:', loadFailed: 'Loading failed.',
    signedInAs: 'Signed in:', via: 'to',
    held: 'Legal hold', heldTitle: 'Kept beyond its retention because of a legal hold.',
    objected: 'Objected', objectedTitle: 'The caller objected to the recording:', objectedDiscardedTitle: 'The caller objected to the recording; its audio was discarded:',
    verified: 'verified', verifiedTitle: 'Complete and unaltered, verified on', verifyFailed: 'verification failed',
    verifyFailedTitle: 'Found altered or incomplete by the check on',
  },
};

export function pickLanguage(stored, preferred) {
  if (stored === 'de' || stored === 'en') return stored;
  for (const tag of preferred) {
    const t = String(tag).toLowerCase();
    if (t.startsWith('de')) return 'de';
    if (t.startsWith('en')) return 'en';
  }
  return 'en';
}
